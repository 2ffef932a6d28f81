package awsinfra

import (
	"context"
	"maps"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// RequestCounter counts the requests the AWS clients send, per service and
// operation ("DynamoDB.GetItem"). It sits after the SDK's retry middleware,
// so a retried call counts once per attempt, as AWS bills it.
type RequestCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

// NewRequestCounter returns a counter at zero.
func NewRequestCounter() *RequestCounter { return &RequestCounter{counts: map[string]int{}} }

// Attach makes every client built from cfg afterwards report to c.
func (c *RequestCounter) Attach(cfg *aws.Config) {
	cfg.APIOptions = append(cfg.APIOptions, func(s *middleware.Stack) error {
		return s.Finalize.Add(middleware.FinalizeMiddlewareFunc("songqueue.RequestCounter",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				c.add(awsmiddleware.GetServiceID(ctx) + "." + awsmiddleware.GetOperationName(ctx))
				return next.HandleFinalize(ctx, in)
			}), middleware.After)
	})
}

func (c *RequestCounter) add(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.counts == nil {
		c.counts = map[string]int{}
	}
	c.counts[op]++
}

// Snapshot returns the counts so far.
func (c *RequestCounter) Snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.counts)
}

// Reset sets every count to zero and returns what they were.
func (c *RequestCounter) Reset() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.counts
	c.counts = map[string]int{}
	return old
}

// Total is the number of requests counted.
func (c *RequestCounter) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.counts {
		n += v
	}
	return n
}

// Operations returns the counted operations, sorted.
func Operations(counts map[string]int) []string {
	return slices.Sorted(maps.Keys(counts))
}
