package s3media_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/songqueue/songqueue/internal/awsinfra"
	"github.com/songqueue/songqueue/internal/awstest"
	"github.com/songqueue/songqueue/internal/media"
	"github.com/songqueue/songqueue/internal/s3media"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// TestCopiesCarryTheirCacheLifetime: an uploaded copy carries
// media.CacheControl as its metadata, which CloudFront and browsers obey:
// an hour, not immutable for a year, so a deleted song leaves the caches.
func TestCopiesCarryTheirCacheLifetime(t *testing.T) {
	ctx := context.Background()
	c := awsinfra.NewClients(awstest.Config(t))
	bucket := "media-" + awstest.UniqueNames(t).Prefix
	if err := awsinfra.EnsureBucket(ctx, c.S3, bucket); err != nil {
		t.Fatal(err)
	}
	store := s3media.New(c.S3, bucket, "https://cdn.test/media")
	body := []byte("RIFF\x24\x08\x00\x00WAVEfmt ")
	if err := store.Put(ctx, "gen-1/0-audio.wav", "audio/wav", bytes.NewReader(body), int64(len(body))); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = store.Delete(context.Background(), "gen-1")
		_, _ = c.S3.DeleteBucket(context.Background(), &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
	})
	head, err := c.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(s3media.Prefix + "gen-1/0-audio.wav")})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(head.CacheControl); got != media.CacheControl {
		t.Errorf("uploaded copy has Cache-Control %q; want %q", got, media.CacheControl)
	}
	if got := aws.ToString(head.ContentType); got != "audio/wav" {
		t.Errorf("uploaded copy has Content-Type %q", got)
	}
}
