package dynamo

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/songqueue/songqueue/internal/health"
	"github.com/songqueue/songqueue/internal/ratelimit"
	"github.com/songqueue/songqueue/internal/service"
)

// Limiter is the sliding window of package ratelimit kept in one DynamoDB
// item, so every worker of every Lambda shares it. The item holds the
// times of the last grants (attribute grants, ratelimit.State.Encode: Unix
// microseconds in base 36, about 120 bytes at 20 per 10 s), their version
// (gver), which every write of them is conditional on, and a mark of the
// write that made them (gby).
//
// A token costs one conditional UpdateItem in the usual case: the limiter
// remembers the last window it saw, decides on it, and writes the new one
// if the version is still the one it saw. When another worker wrote first,
// the failed condition returns the item as it is
// (ReturnValuesOnConditionCheckFailure), so the second try decides on the
// current window without a read. A refusal that the remembered window
// already proves costs nothing, because grants only ever add to it: what
// is refused in an older window is refused in every later one.
type Limiter struct {
	db     *dynamodb.Client
	table  string
	key    string
	policy ratelimit.Policy
	now    func() time.Time
	seen   atomic.Pointer[seenWindow] // the last window this limiter saw
}

// seenWindow is a window as read from the item, with its version (0: the
// item has none yet).
type seenWindow struct {
	state   ratelimit.State
	version int64
}

var _ service.Account = (*Limiter)(nil)

// limiterTTL keeps an idle window's item this long past its last grant;
// once DynamoDB deletes it the window is empty, as it would be anyway.
const limiterTTL = 24 * time.Hour

// takeRounds bounds the writes of one Take under heavy contention.
const takeRounds = 4

// NewLimiter returns the window named name (one item, "limiter#name") in
// table. now may be nil for the wall clock.
func NewLimiter(db *dynamodb.Client, table, name string, p ratelimit.Policy, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{db: db, table: table, key: "limiter#" + name, policy: p, now: now}
}

// Take implements service.RateLimiter.
func (l *Limiter) Take(ctx context.Context, a ratelimit.Ask) (service.Grant, error) {
	now := l.now()
	seen := l.seen.Load()
	if seen == nil {
		seen = &seenWindow{}
	}
	for range takeRounds {
		next, ok, wait := l.policy.Decide(seen.state, now, a)
		if !ok {
			// The stored window holds at least the grants seen, so this is
			// a refusal whatever it is now; wait may be a little short,
			// which only makes the caller ask again a little early.
			return service.Grant{RetryAfter: wait}, nil
		}
		last := next.Grants[len(next.Grants)-1]
		// The write's own mark: if the SDK sends it again because the
		// answer was lost, the failed condition shows whether the first
		// one landed.
		by := strconv.FormatUint(rand.Uint64(), 36)
		in := &dynamodb.UpdateItemInput{
			TableName:        aws.String(l.table),
			Key:              keyOf(l.key),
			UpdateExpression: aws.String("SET grants = :grants, gver = :next, gby = :by, expiresAt = :exp"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":grants": &types.AttributeValueMemberS{Value: next.Encode()},
				":next":   num(seen.version + 1),
				":by":     &types.AttributeValueMemberS{Value: by},
				":exp":    num(time.UnixMicro(last).Add(limiterTTL).Unix()),
			},
			// The whole item: the breaker comes with the token.
			ReturnValues:                        types.ReturnValueAllNew,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}
		if seen.version == 0 {
			in.ConditionExpression = aws.String("attribute_not_exists(gver)")
		} else {
			in.ConditionExpression = aws.String("gver = :v")
			in.ExpressionAttributeValues[":v"] = num(seen.version)
		}
		out, err := l.db.UpdateItem(ctx, in)
		if err == nil {
			l.seen.Store(windowOf(out.Attributes))
			b, err := breakerOf(out.Attributes)
			return service.Grant{OK: true, Breaker: b, BreakerKnown: err == nil}, nil
		}
		cf, failed := isConditionFailed(err)
		if !failed {
			return service.Grant{}, fmt.Errorf("rate limiter: %w", err)
		}
		if mark, ok := cf.Item["gby"].(*types.AttributeValueMemberS); ok && mark.Value == by {
			// This very write landed before: the token is ours.
			l.seen.Store(windowOf(cf.Item))
			b, err := breakerOf(cf.Item)
			return service.Grant{OK: true, Breaker: b, BreakerKnown: err == nil}, nil
		}
		seen = windowOf(cf.Item)
		l.seen.Store(seen)
	}
	// Lost every round to other workers: the window is busy, so waiting one
	// interval is the honest answer.
	return service.Grant{RetryAfter: l.policy.Interval()}, nil
}

// windowOf reads the window of an item: none when the item has none (or
// has been deleted by its TTL). A window that cannot be read counts as
// empty, with its version, so the next write replaces it.
func windowOf(av map[string]types.AttributeValue) *seenWindow {
	w := &seenWindow{}
	if n, ok := av["gver"].(*types.AttributeValueMemberN); ok {
		w.version, _ = strconv.ParseInt(n.Value, 10, 64)
	}
	if s, ok := av["grants"].(*types.AttributeValueMemberS); ok {
		w.state, _ = ratelimit.DecodeState(s.Value)
	}
	return w
}

// The breaker lives in the limiter's item (attribute breaker, JSON), with
// its own version (bver) for conditional writes that never touch the
// bucket.

// breakerOf reads the breaker of an item; the zero breaker when it has
// none.
func breakerOf(av map[string]types.AttributeValue) (health.Breaker, error) {
	var b health.Breaker
	s, ok := av["breaker"].(*types.AttributeValueMemberS)
	if !ok {
		return b, nil
	}
	if err := json.Unmarshal([]byte(s.Value), &b); err != nil {
		return b, fmt.Errorf("breaker of %s: %w", "limiter", err)
	}
	return b, nil
}

func versionOf(av map[string]types.AttributeValue) int64 {
	n, ok := av["bver"].(*types.AttributeValueMemberN)
	if !ok {
		return 0
	}
	v, _ := strconv.ParseInt(n.Value, 10, 64)
	return v
}

// Usage implements service.WindowReader: one strongly consistent read of
// the window.
func (l *Limiter) Usage(ctx context.Context) (service.WindowUsage, error) {
	out, err := l.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(l.table), Key: keyOf(l.key), ConsistentRead: aws.Bool(true),
		ProjectionExpression: aws.String("grants, gver"),
	})
	if err != nil {
		return service.WindowUsage{}, fmt.Errorf("read the rate window: %w", err)
	}
	n, span := l.policy.Limit()
	return service.WindowUsage{Limit: n, Window: span, Used: l.policy.Used(windowOf(out.Item).state, l.now())}, nil
}

// Breaker implements service.Breakers: one strongly consistent read.
func (l *Limiter) Breaker(ctx context.Context) (health.Breaker, error) {
	b, _, err := l.readBreaker(ctx)
	return b, err
}

func (l *Limiter) readBreaker(ctx context.Context) (health.Breaker, int64, error) {
	out, err := l.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(l.table), Key: keyOf(l.key), ConsistentRead: aws.Bool(true),
		ProjectionExpression: aws.String("breaker, bver"),
	})
	if err != nil {
		return health.Breaker{}, 0, fmt.Errorf("read breaker: %w", err)
	}
	b, err := breakerOf(out.Item)
	return b, versionOf(out.Item), err
}

// breakerRounds bounds the writes of one UpdateBreaker under contention.
const breakerRounds = 8

// UpdateBreaker implements service.Breakers: a read and a write
// conditional on the breaker's version, again on a conflict.
func (l *Limiter) UpdateBreaker(ctx context.Context, change func(*health.Breaker) error) (health.Breaker, error) {
	for range breakerRounds {
		b, v, err := l.readBreaker(ctx)
		if err != nil {
			return b, err
		}
		before := b
		if err := change(&b); err != nil {
			return before, err
		}
		body, err := json.Marshal(b)
		if err != nil {
			return before, fmt.Errorf("encode breaker: %w", err)
		}
		in := &dynamodb.UpdateItemInput{
			TableName:        aws.String(l.table),
			Key:              keyOf(l.key),
			UpdateExpression: aws.String("SET breaker = :b, bver = :next"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":b": &types.AttributeValueMemberS{Value: string(body)}, ":next": num(v + 1),
			},
		}
		if v == 0 {
			in.ConditionExpression = aws.String("attribute_not_exists(bver)")
		} else {
			in.ConditionExpression = aws.String("bver = :v")
			in.ExpressionAttributeValues[":v"] = num(v)
		}
		_, err = l.db.UpdateItem(ctx, in)
		if err == nil {
			return b, nil
		}
		if _, failed := isConditionFailed(err); !failed {
			return before, fmt.Errorf("write breaker: %w", err)
		}
		// Another worker wrote first: read again, a little later, so that
		// a crowd of workers does not collide again in step.
		time.Sleep(time.Duration(rand.Int64N(int64(20 * time.Millisecond))))
	}
	return health.Breaker{}, fmt.Errorf("write breaker: %w", service.ErrConflict)
}
