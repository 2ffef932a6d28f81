package dynamo_test

import (
	"context"
	"encoding/base64"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/songqueue/songqueue/internal/awsinfra"
	"github.com/songqueue/songqueue/internal/awstest"
	"github.com/songqueue/songqueue/internal/dynamo"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/porttest"
	"github.com/songqueue/songqueue/internal/ratelimit"
	"github.com/songqueue/songqueue/internal/service"
)

func TestMain(m *testing.M) { awstest.Main(m) }

func newStore(t *testing.T, opt dynamo.Options) (*dynamo.Store, awsinfra.Clients, awsinfra.Names) {
	c, n := awstest.SetupTables(t, awstest.Config(t))
	return dynamo.NewStore(c.DynamoDB, n.Generations, n.Connections, opt), c, n
}

func TestStoreContract(t *testing.T) {
	awstest.Endpoint(t)
	porttest.Store(t, func(t *testing.T) (service.Store, service.Connections) {
		s, _, _ := newStore(t, dynamo.Options{})
		return s, s
	})
}

func TestLimiterContract(t *testing.T) {
	awstest.Endpoint(t)
	porttest.Limiter(t, func(t *testing.T, p ratelimit.Policy, now func() time.Time) func() service.RateLimiter {
		c, n := awstest.SetupTables(t, awstest.Config(t))
		return func() service.RateLimiter { return dynamo.NewLimiter(c.DynamoDB, n.Generations, "suno", p, now) }
	})
}

func getItem(t *testing.T, db *dynamodb.Client, table string, key map[string]types.AttributeValue) map[string]types.AttributeValue {
	t.Helper()
	out, err := db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	return out.Item
}

func epochSeconds(t *testing.T, item map[string]types.AttributeValue) int64 {
	t.Helper()
	n, ok := item[dynamo.AttrExpiresAt].(*types.AttributeValueMemberN)
	if !ok {
		t.Fatalf("item has no numeric %s (the TTL attribute): %v", dynamo.AttrExpiresAt, item)
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestTablesAsDeclared checks what Ensure made: TTL on both tables, the
// indexes with keys-only or full projections, and that a second Ensure
// changes nothing.
func TestTablesAsDeclared(t *testing.T) {
	t.Parallel()
	cfg := awstest.Config(t)
	c, n := awstest.SetupTables(t, cfg)
	ctx := context.Background()
	if err := awsinfra.EnsureTables(ctx, c.DynamoDB, n); err != nil {
		t.Fatalf("second Ensure: %v", err)
	}
	for table, indexes := range map[string]map[string]types.ProjectionType{
		n.Generations: {dynamo.IndexByUser: types.ProjectionTypeKeysOnly, dynamo.IndexByDeadline: types.ProjectionTypeKeysOnly},
		n.Connections: {dynamo.IndexByUser: types.ProjectionTypeAll},
	} {
		ttl, err := c.DynamoDB.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
		if err != nil {
			t.Fatal(err)
		}
		if d := ttl.TimeToLiveDescription; d == nil || d.TimeToLiveStatus != types.TimeToLiveStatusEnabled || aws.ToString(d.AttributeName) != dynamo.AttrExpiresAt {
			t.Errorf("%s: TTL %+v, want enabled on %s", table, d, dynamo.AttrExpiresAt)
		}
		desc, err := c.DynamoDB.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]types.ProjectionType{}
		for _, g := range desc.Table.GlobalSecondaryIndexes {
			got[aws.ToString(g.IndexName)] = g.Projection.ProjectionType
		}
		for name, proj := range indexes {
			if got[name] != proj {
				t.Errorf("%s: index %s projection %q, want %q", table, name, got[name], proj)
			}
		}
	}
}

// TestTTLAttributes checks that the items meant to expire carry expiresAt
// in epoch seconds, and that generations, the user's history, do not.
func TestTTLAttributes(t *testing.T) {
	t.Parallel()
	now := time.Now()
	s, c, n := newStore(t, dynamo.Options{Now: func() time.Time { return now }})
	ctx := context.Background()
	g := generation.New("g-ttl", "u1", generation.Free, generation.Request{Prompt: "x", Model: "V4_5"}, now, time.Minute)
	if _, _, err := s.Create(ctx, g, "key-ttl", service.Quota{}); err != nil {
		t.Fatal(err)
	}
	if item := getItem(t, c.DynamoDB, n.Generations, map[string]types.AttributeValue{dynamo.AttrGenerationID: &types.AttributeValueMemberS{Value: "g-ttl"}}); item[dynamo.AttrExpiresAt] != nil {
		t.Errorf("a generation carries the TTL attribute: %v", item[dynamo.AttrExpiresAt])
	}
	var idem map[string]types.AttributeValue
	out, err := c.DynamoDB.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(n.Generations)})
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range out.Items {
		if k, _ := it[dynamo.AttrGenerationID].(*types.AttributeValueMemberS); k != nil && len(k.Value) > 5 && k.Value[:5] == "idem#" {
			idem = it
		}
	}
	if idem == nil {
		t.Fatal("no idempotency item was written")
	}
	if got, want := epochSeconds(t, idem), now.Add(24*time.Hour).Unix(); got != want {
		t.Errorf("idempotency item expires at %d, want %d (24 h)", got, want)
	}

	conn := service.Connection{ID: "c1", UserID: "u1", ConnectedAt: now, ExpiresAt: now.Add(2 * time.Hour)}
	if err := s.PutConnection(ctx, conn, 10); err != nil {
		t.Fatal(err)
	}
	item := getItem(t, c.DynamoDB, n.Connections, map[string]types.AttributeValue{dynamo.AttrConnectionID: &types.AttributeValueMemberS{Value: "c1"}})
	if got := epochSeconds(t, item); got < conn.ExpiresAt.Unix() || got > conn.ExpiresAt.Unix()+1 {
		t.Errorf("connection expires at %d, want %d", got, conn.ExpiresAt.Unix())
	}
	// The user's connection slots (the cap's item) go with the last one.
	item = getItem(t, c.DynamoDB, n.Connections, map[string]types.AttributeValue{dynamo.AttrConnectionID: &types.AttributeValueMemberS{Value: "slots#" + base64.RawURLEncoding.EncodeToString([]byte("u1"))}})
	if got := epochSeconds(t, item); got < conn.ExpiresAt.Unix() || got > conn.ExpiresAt.Unix()+1 {
		t.Errorf("connection slots expire at %d, want %d", got, conn.ExpiresAt.Unix())
	}

	l := dynamo.NewLimiter(c.DynamoDB, n.Generations, "suno", ratelimit.Policy{Rate: 10}, func() time.Time { return now })
	if g, err := l.Take(ctx, ratelimit.Ask{Tier: generation.Free}); err != nil || !g.OK {
		t.Fatalf("Take = %v, %v", g.OK, err)
	}
	item = getItem(t, c.DynamoDB, n.Generations, map[string]types.AttributeValue{dynamo.AttrGenerationID: &types.AttributeValueMemberS{Value: "limiter#suno"}})
	if got := epochSeconds(t, item); got < now.Unix() || got > now.Add(25*time.Hour).Unix() {
		t.Errorf("limiter item expires at %d, want about a day after now (%d)", got, now.Unix())
	}
}

// TestExpiredIdempotencyKey: a key past its TTL is free again even before
// DynamoDB gets round to deleting the item.
func TestExpiredIdempotencyKey(t *testing.T) {
	t.Parallel()
	clock := porttest.NewClock(time.Now())
	s, _, _ := newStore(t, dynamo.Options{Now: clock.Now, IdempotencyTTL: time.Hour})
	ctx := context.Background()
	req := generation.Request{Prompt: "x", Model: "V4_5"}
	first, created, err := s.Create(ctx, generation.New("g-first", "u1", generation.Pro, req, clock.Now(), time.Minute), "k", service.Quota{})
	if err != nil || !created {
		t.Fatalf("first Create = %v, %v", created, err)
	}
	clock.Advance(59 * time.Minute)
	if got, created, err := s.Create(ctx, generation.New("g-second", "u1", generation.Pro, req, clock.Now(), time.Minute), "k", service.Quota{}); err != nil || created || got.ID != first.ID {
		t.Fatalf("Create within the TTL = %s, created %v, %v; want the first", got.ID, created, err)
	}
	clock.Advance(2 * time.Minute)
	if got, created, err := s.Create(ctx, generation.New("g-third", "u1", generation.Pro, req, clock.Now(), time.Minute), "k", service.Quota{}); err != nil || !created || got.ID != "g-third" {
		t.Fatalf("Create after the TTL = %s, created %v, %v; want a new generation", got.ID, created, err)
	}
}

// TestLimiterRequests: a token costs one request, and a refusal the
// limiter can prove from what it last saw costs none.
func TestLimiterRequests(t *testing.T) {
	t.Parallel()
	cfg := awstest.Config(t)
	counter := awsinfra.NewRequestCounter()
	counter.Attach(&cfg)
	c, n := awstest.SetupTables(t, cfg)
	clock := porttest.NewClock(time.Now())
	l := dynamo.NewLimiter(c.DynamoDB, n.Generations, "suno", ratelimit.Policy{Rate: 10, Burst: 4}, clock.Now)
	ctx := context.Background()
	counter.Reset()
	for i := range 4 {
		if g, err := l.Take(ctx, ratelimit.Ask{Tier: generation.Enterprise}); err != nil || !g.OK {
			t.Fatalf("take %d: %v %v", i, g.OK, err)
		}
	}
	if got := counter.Total(); got != 4 {
		t.Errorf("4 tokens cost %d requests (%v), want 4", got, counter.Snapshot())
	}
	counter.Reset()
	if g, _ := l.Take(ctx, ratelimit.Ask{Tier: generation.Enterprise}); g.OK {
		t.Fatal("fifth token of a bucket of 4 granted")
	}
	if got := counter.Total(); got != 0 {
		t.Errorf("a refusal cost %d requests, want 0", got)
	}
	// Another worker, which has seen nothing, needs one request to learn.
	policy := ratelimit.Policy{Rate: 10, Burst: 4}
	other := dynamo.NewLimiter(c.DynamoDB, n.Generations, "suno", policy, clock.Now)
	if g, _ := other.Take(ctx, ratelimit.Ask{Tier: generation.Enterprise}); g.OK || g.RetryAfter != policy.Interval() {
		t.Fatalf("other worker: ok %v wait %s; want refused for one interval, %s", g.OK, g.RetryAfter, policy.Interval())
	}
	if got := counter.Total(); got != 1 {
		t.Errorf("a fresh worker's refusal cost %d requests, want 1", got)
	}
}
