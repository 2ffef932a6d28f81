// Package s3media keeps the copies of songs in an S3 bucket, served to
// users through CloudFront (template.yaml: the web distribution's /media/*
// behaviour reads the bucket with origin access control).
package s3media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/songqueue/songqueue/internal/media"
)

// Prefix is where the copies live in the bucket: CloudFront forwards the
// path it was asked for, /media/<key>, as the object key.
const Prefix = "media/"

// Store is the media bucket.
type Store struct {
	s3     *s3.Client
	bucket string
	base   string
}

// New returns the store on bucket, whose objects are served at baseURL
// (the distribution's https://<domain>/media).
func New(client *s3.Client, bucket, baseURL string) *Store {
	return &Store{s3: client, bucket: bucket, base: strings.TrimRight(baseURL, "/")}
}

// Put uploads body, size bytes of contentType, to key in one PutObject.
// body is the temporary file a download went to (media.Fetch): seekable,
// so the SDK signs and checksums it by reading it, never holding it.
func (s *Store) Put(ctx context.Context, key, contentType string, body io.Reader, size int64) error {
	if !media.ValidKey(key) {
		return fmt.Errorf("media key %q is not valid", key)
	}
	_, err := s.s3.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(Prefix + key),
		Body:          body,
		ContentLength: aws.Int64(size),
		ContentType:   aws.String(contentType),
		// Browsers and CloudFront keep it an hour at most: a deleted
		// song stops being served within the hour (media.CacheControl).
		CacheControl: aws.String(media.CacheControl),
	})
	if err != nil {
		return fmt.Errorf("upload %s: %w", key, err)
	}
	return nil
}

// URL is where key is served.
func (s *Store) URL(key string) string { return s.base + "/" + key }

// Delete removes every object under prefix (a generation's copies): one
// listing and one DeleteObjects per thousand objects.
func (s *Store) Delete(ctx context.Context, prefix string) error {
	if !media.ValidKey(prefix) {
		return fmt.Errorf("media prefix %q is not valid", prefix)
	}
	p := s3.NewListObjectsV2Paginator(s.s3, &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(Prefix + prefix + "/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list %s: %w", prefix, err)
		}
		if len(page.Contents) == 0 {
			continue
		}
		ids := make([]types.ObjectIdentifier, len(page.Contents))
		for i, o := range page.Contents {
			ids[i] = types.ObjectIdentifier{Key: o.Key}
		}
		out, err := s.s3.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(s.bucket), Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
		if err != nil {
			return fmt.Errorf("delete %s: %w", prefix, err)
		}
		if len(out.Errors) > 0 {
			return fmt.Errorf("delete %s: %s: %s", prefix, aws.ToString(out.Errors[0].Key), aws.ToString(out.Errors[0].Message))
		}
	}
	return nil
}

// ServeHTTP serves a copy from the bucket, ranges included: what the local
// stack mounts at /media/ on the AWS backend, where CloudFront is not.
func (s *Store) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	key := strings.TrimPrefix(r.URL.Path, "/")
	if !media.ValidKey(key) {
		http.NotFound(w, r)
		return
	}
	in := &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(Prefix + key)}
	if rg := r.Header.Get("Range"); rg != "" {
		in.Range = aws.String(rg)
	}
	out, err := s.s3.GetObject(r.Context(), in)
	var nk *types.NoSuchKey
	var re smithy.APIError
	switch {
	case errors.As(err, &nk):
		http.NotFound(w, r)
		return
	case errors.As(err, &re) && re.ErrorCode() == "InvalidRange":
		http.Error(w, "range not satisfiable", http.StatusRequestedRangeNotSatisfiable)
		return
	case err != nil:
		http.Error(w, "media unavailable", http.StatusBadGateway)
		return
	}
	defer out.Body.Close()
	h := w.Header()
	h.Set("Content-Type", media.TypeOf(key))
	h.Set("Accept-Ranges", "bytes")
	h.Set("X-Content-Type-Options", "nosniff")
	if out.ContentLength != nil {
		h.Set("Content-Length", strconv.FormatInt(*out.ContentLength, 10))
	}
	status := http.StatusOK
	if out.ContentRange != nil {
		h.Set("Content-Range", *out.ContentRange)
		status = http.StatusPartialContent
	}
	w.WriteHeader(status)
	if r.Method == http.MethodGet {
		_, _ = io.Copy(w, out.Body)
	}
}
