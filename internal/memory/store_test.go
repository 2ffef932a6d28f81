package memory

import (
	"context"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

func TestIdempotencyKeysExpireLikeDynamoDBs(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	s := NewStore(WithClock(func() time.Time { return now }))
	ctx := context.Background()
	first := generation.New("g1", "u", generation.Free, generation.Request{Prompt: "p"}, now, time.Hour)
	if _, created, err := s.Create(ctx, first, "k", service.Quota{}); err != nil || !created {
		t.Fatalf("first create: %v %v", created, err)
	}
	again := generation.New("g2", "u", generation.Free, generation.Request{Prompt: "p"}, now, time.Hour)
	if got, created, _ := s.Create(ctx, again, "k", service.Quota{}); created || got.ID != "g1" {
		t.Fatalf("replay within the TTL created %v, returned %s; want g1", created, got.ID)
	}
	now = now.Add(IdempotencyTTL + time.Second)
	if got, created, _ := s.Create(ctx, again, "k", service.Quota{}); !created || got.ID != "g2" {
		t.Fatalf("after the TTL: created %v, %s; want a new generation g2", created, got.ID)
	}
}
