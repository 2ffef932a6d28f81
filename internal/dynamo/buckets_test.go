package dynamo_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/songqueue/songqueue/internal/awsinfra"
	"github.com/songqueue/songqueue/internal/awstest"
	"github.com/songqueue/songqueue/internal/dynamo"
	"github.com/songqueue/songqueue/internal/porttest"
	"github.com/songqueue/songqueue/internal/throttle"
)

// The request buckets on DynamoDB: every instance (a NewBuckets of its own)
// on the same table, as the functions' instances are.
func TestBucketsContract(t *testing.T) {
	awstest.Endpoint(t)
	porttest.Buckets(t, func(t *testing.T, now func() time.Time) func() throttle.Store {
		c, n := awstest.SetupTables(t, awstest.Config(t))
		return func() throttle.Store { return dynamo.NewBuckets(c.DynamoDB, n.Generations, now) }
	})
}

// countingTransport counts the DynamoDB requests of one operation.
type countingTransport struct {
	base http.RoundTripper
	op   string
	n    atomic.Int32
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.Header.Get("X-Amz-Target"), "."+c.op) {
		c.n.Add(1)
	}
	return c.base.RoundTrip(r)
}

// TestBucketsRefuseWithoutARequest: a request costs one write, a bucket's
// item expires a minute after its TAT, and a client that keeps asking past
// its limit is refused by the instance it reaches from the TAT it saw,
// without a request to DynamoDB.
func TestBucketsRefuseWithoutARequest(t *testing.T) {
	t.Parallel()
	cfg := awstest.Config(t)
	counter := &countingTransport{base: http.DefaultTransport, op: "UpdateItem"}
	counted := cfg.Copy()
	counted.HTTPClient = &http.Client{Transport: counter}
	c, n := awstest.SetupTables(t, cfg)
	clock := porttest.NewClock(time.Now().Truncate(time.Second))
	b := dynamo.NewBuckets(awsinfra.NewClients(counted).DynamoDB, n.Generations, clock.Now)
	limit := throttle.Limit{Rate: 2, Burst: 3}
	for i := range 3 {
		if d, err := b.Take(context.Background(), "user#knocker", limit); err != nil || !d.OK {
			t.Fatalf("request %d: %+v %v", i+1, d, err)
		}
	}
	if got := counter.n.Load(); got != 3 {
		t.Fatalf("%d UpdateItem for 3 requests on a quiet bucket; want one each", got)
	}
	item := getItem(t, c.DynamoDB, n.Generations, map[string]types.AttributeValue{dynamo.AttrGenerationID: &types.AttributeValueMemberS{Value: dynamo.BucketKey("user#knocker")}})
	if exp, want := epochSeconds(t, item), clock.Now().Add(1500*time.Millisecond+time.Minute).Unix(); exp < want || exp > want+2 {
		t.Errorf("expiresAt %d, want about %d (a minute past the TAT)", exp, want)
	}
	// The fourth is refused by a failed condition (one request), and every
	// later one from what that refusal showed.
	for range 50 {
		if d, err := b.Take(context.Background(), "user#knocker", limit); err != nil || d.OK {
			t.Fatalf("a request past the burst: %+v %v", d, err)
		}
	}
	if got := counter.n.Load(); got > 4 {
		t.Fatalf("%d UpdateItem for 3 requests and 50 refusals; the refusals should cost at most one", got)
	}
	clock.Advance(500 * time.Millisecond)
	if d, err := b.Take(context.Background(), "user#knocker", limit); err != nil || !d.OK {
		t.Fatalf("after an interval: %+v %v", d, err)
	}
}
