package dynamo_test

import (
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/songqueue/songqueue/internal/awsinfra"
	"github.com/songqueue/songqueue/internal/awstest"
	"github.com/songqueue/songqueue/internal/dynamo"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/health"
	"github.com/songqueue/songqueue/internal/porttest"
	"github.com/songqueue/songqueue/internal/ratelimit"
)

// TestLimiterWindowItem: the window lives in the limiter's item next to
// the breaker (grants, and the version gver its writes are conditional
// on), a token brings the breaker with it, and an item an older limiter
// left (its tat attribute) does not get in the way.
func TestLimiterWindowItem(t *testing.T) {
	t.Parallel()
	c, n := awstest.SetupTables(t, awstest.Config(t))
	ctx := context.Background()
	key := map[string]types.AttributeValue{dynamo.AttrGenerationID: &types.AttributeValueMemberS{Value: "limiter#suno"}}
	// What the token bucket before the window left behind.
	if _, err := c.DynamoDB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(n.Generations), Key: key,
		UpdateExpression:          aws.String("SET tat = :tat"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":tat": &types.AttributeValueMemberN{Value: strconv.FormatInt(time.Now().Add(time.Hour).UnixNano(), 10)}},
	}); err != nil {
		t.Fatal(err)
	}
	clock := porttest.NewClock(time.Now())
	p := ratelimit.Policy{Rate: 20, Window: 10 * time.Second}
	l := dynamo.NewLimiter(c.DynamoDB, n.Generations, "suno", p, clock.Now)
	if _, err := l.UpdateBreaker(ctx, func(b *health.Breaker) error { b.LastError = "boom"; return nil }); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		g, err := l.Take(ctx, ratelimit.Ask{Tier: generation.Pro})
		if err != nil || !g.OK {
			t.Fatalf("take %d: %v %v", i, g.OK, err)
		}
		if !g.BreakerKnown || g.Breaker.LastError != "boom" {
			t.Errorf("take %d came with breaker %+v (known %v), want the one written", i, g.Breaker, g.BreakerKnown)
		}
		clock.Advance(time.Second)
	}
	item := getItem(t, c.DynamoDB, n.Generations, key)
	text, _ := item["grants"].(*types.AttributeValueMemberS)
	if text == nil {
		t.Fatalf("the item has no grants: %v", item)
	}
	s, err := ratelimit.DecodeState(text.Value)
	if err != nil || len(s.Grants) != 3 || s.Served[generation.Pro.Rank()] != s.Grants[2] {
		t.Errorf("the item's window %q reads %+v, %v; want 3 grants, the last PRO's", text.Value, s, err)
	}
	if v, _ := item["gver"].(*types.AttributeValueMemberN); v == nil || v.Value != "3" {
		t.Errorf("the item's window version is %v, want 3", item["gver"])
	}
	if b, err := l.Breaker(ctx); err != nil || b.LastError != "boom" {
		t.Errorf("the breaker after the tokens: %+v, %v", b, err)
	}
}

// TestLimiterContention: a worker whose view of the window is out of date
// learns the current one from its failed write and takes its token with a
// second write; it never reads.
func TestLimiterContention(t *testing.T) {
	t.Parallel()
	cfg := awstest.Config(t)
	counter := awsinfra.NewRequestCounter()
	counter.Attach(&cfg)
	c, n := awstest.SetupTables(t, cfg)
	clock := porttest.NewClock(time.Now())
	p := ratelimit.Policy{Rate: 10, Burst: 10}
	a := dynamo.NewLimiter(c.DynamoDB, n.Generations, "suno", p, clock.Now)
	b := dynamo.NewLimiter(c.DynamoDB, n.Generations, "suno", p, clock.Now)
	ctx := context.Background()
	take := func(l *dynamo.Limiter, wantRequests int) {
		t.Helper()
		counter.Reset()
		if g, err := l.Take(ctx, ratelimit.Ask{Tier: generation.Enterprise}); err != nil || !g.OK {
			t.Fatalf("take: %v %v", g.OK, err)
		}
		if got := counter.Snapshot(); got["DynamoDB.UpdateItem"] != wantRequests || counter.Total() != wantRequests {
			t.Errorf("a token cost %v, want %d UpdateItem", got, wantRequests)
		}
	}
	take(a, 1)
	take(a, 1)
	take(b, 2) // b has seen nothing: its first write finds a's grants
	take(a, 2) // a has not seen b's
	take(b, 2)
	take(b, 1)
	// Ten in the window: whoever asks is refused, and a worker that has
	// seen them all is refused for free.
	take(a, 2) // a has not seen b's last two
	for range 3 {
		take(a, 1)
	}
	counter.Reset()
	if g, _ := a.Take(ctx, ratelimit.Ask{Tier: generation.Enterprise}); g.OK {
		t.Fatal("an eleventh token in one second")
	}
	if got := counter.Total(); got != 0 {
		t.Errorf("a refusal the worker could prove cost %d requests", got)
	}
	counter.Reset()
	if g, _ := b.Take(ctx, ratelimit.Ask{Tier: generation.Enterprise}); g.OK {
		t.Fatal("an eleventh token in one second")
	}
	if got := counter.Total(); got != 1 {
		t.Errorf("a worker that had not seen the last grants needed %d requests to learn of them, want 1", got)
	}
}

// lostAnswer is what a write whose answer never came looks like to the
// SDK: an error it retries.
type lostAnswer struct{}

func (lostAnswer) Error() string        { return "the answer was lost" }
func (lostAnswer) RetryableError() bool { return true }

// TestLimiterLostAnswer: when a write lands but its answer is lost, the
// SDK sends it again; the second write's failed condition shows the first
// landed, and the token is the worker's, not a grant nobody used.
func TestLimiterLostAnswer(t *testing.T) {
	t.Parallel()
	cfg := awstest.Config(t)
	var lost atomic.Int32
	cfg.APIOptions = append(cfg.APIOptions, func(s *middleware.Stack) error {
		return s.Deserialize.Add(middleware.DeserializeMiddlewareFunc("lose-first-answer",
			func(ctx context.Context, in middleware.DeserializeInput, next middleware.DeserializeHandler) (middleware.DeserializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleDeserialize(ctx, in)
				if err == nil && middleware.GetOperationName(ctx) == "UpdateItem" && lost.CompareAndSwap(0, 1) {
					return out, md, lostAnswer{}
				}
				return out, md, err
			}), middleware.After)
	})
	counter := awsinfra.NewRequestCounter()
	counter.Attach(&cfg)
	c, n := awstest.SetupTables(t, cfg)
	ctx := context.Background()
	clock := porttest.NewClock(time.Now())
	p := ratelimit.Policy{Rate: 2, Burst: 2}
	l := dynamo.NewLimiter(c.DynamoDB, n.Generations, "suno", p, clock.Now)
	counter.Reset()
	for i := range 2 {
		if g, err := l.Take(ctx, ratelimit.Ask{Tier: generation.Enterprise}); err != nil || !g.OK || !g.BreakerKnown {
			t.Fatalf("take %d: ok %v, breaker known %v, %v", i, g.OK, g.BreakerKnown, err)
		}
	}
	if lost.Load() != 1 {
		t.Fatal("no answer was lost")
	}
	if got := counter.Snapshot()["DynamoDB.UpdateItem"]; got != 3 {
		t.Errorf("2 tokens, one answer lost, cost %d UpdateItem, want 3", got)
	}
	if g, _ := l.Take(ctx, ratelimit.Ask{Tier: generation.Enterprise}); g.OK {
		t.Error("a third token in a window of 2")
	}
	item := getItem(t, c.DynamoDB, n.Generations, map[string]types.AttributeValue{dynamo.AttrGenerationID: &types.AttributeValueMemberS{Value: "limiter#suno"}})
	s, err := ratelimit.DecodeState(item["grants"].(*types.AttributeValueMemberS).Value)
	if err != nil || len(s.Grants) != 2 {
		t.Errorf("the window holds %v (%v), want the 2 grants", s.Grants, err)
	}
}
