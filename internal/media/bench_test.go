package media_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/songqueue/songqueue/internal/awsinfra"
	"github.com/songqueue/songqueue/internal/media"
	"github.com/songqueue/songqueue/internal/s3media"
)

// trackBytes is the size of the track the benchmark copies: larger than
// Suno's songs (an 8-minute MP3 is about 8 MB).
const trackBytes = 10 << 20

// songServer streams a trackBytes WAV from a 32 KiB buffer, so the server
// itself holds no song in memory either.
func songServer(b *testing.B) *httptest.Server {
	chunk := wav(32 << 10)
	rest := make([]byte, 32<<10)
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "audio/wav")
		w.Header().Set("Content-Length", strconv.Itoa(trackBytes))
		_, _ = w.Write(chunk)
		for n := len(chunk); n < trackBytes; n += len(rest) {
			_, _ = w.Write(rest)
		}
	}))
	b.Cleanup(s.Close)
	return s
}

// peakHeap samples the live heap while f runs and returns the most it grew
// above where it started.
func peakHeap(f func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > base && ms.HeapAlloc-base > peak.Load() {
				peak.Store(ms.HeapAlloc - base)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	f()
	close(done)
	return peak.Load()
}

// BenchmarkCopyMemory copies a 10 MiB track from a Suno-like server into
// the stores as the archive job does (download to a temporary file, then
// upload it) and reports the peak heap growth: it stays far below the
// file's size, whatever the size.
func BenchmarkCopyMemory(b *testing.B) {
	src := songServer(b)
	fetcher := media.Fetcher{Dir: b.TempDir(), AllowLoopback: true}
	dir, err := media.OpenDir(b.TempDir(), "http://stack/media")
	if err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, put func(ctx context.Context, key string, f *media.File) error) {
		var worst uint64
		for b.Loop() {
			peak := peakHeap(func() {
				f, err := fetcher.Fetch(context.Background(), src.URL+"/song.wav", media.Audio)
				if err != nil {
					b.Fatal(err)
				}
				defer f.Close()
				if err := put(context.Background(), "bench/0-audio.wav", f); err != nil {
					b.Fatal(err)
				}
			})
			worst = max(worst, peak)
		}
		b.ReportMetric(float64(worst)/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(trackBytes)/(1<<20), "track-MiB")
	}
	b.Run("dir", func(b *testing.B) {
		run(b, func(ctx context.Context, key string, f *media.File) error {
			return dir.Put(ctx, key, f.ContentType, f, f.Size)
		})
	})
	if os.Getenv(awsinfra.EndpointEnv) == "" {
		return // the S3 store needs an emulator (make bench starts moto)
	}
	b.Run("s3", func(b *testing.B) {
		cfg, err := awsinfra.LoadAWSConfig(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		c := awsinfra.NewClients(cfg)
		bucket := "bench-media-" + strconv.FormatInt(time.Now().UnixNano(), 36)
		if err := awsinfra.EnsureBucket(context.Background(), c.S3, bucket); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			_, _ = c.S3.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(s3media.Prefix + "bench/0-audio.wav")})
			_, _ = c.S3.DeleteBucket(context.Background(), &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
		})
		store := s3media.New(c.S3, bucket, "http://cdn/media")
		run(b, func(ctx context.Context, key string, f *media.File) error {
			return store.Put(ctx, key, f.ContentType, f, f.Size)
		})
	})
}
