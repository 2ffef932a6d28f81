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

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/health"
	"github.com/songqueue/songqueue/internal/ratelimit"
	"github.com/songqueue/songqueue/internal/service"
)

// Limiter is the token bucket of package ratelimit kept in one DynamoDB
// item, so every worker of every Lambda shares it. The item holds the
// bucket's theoretical arrival time (TAT) in Unix nanoseconds.
//
// A token costs one conditional UpdateItem in the usual case. The limiter
// remembers the last TAT it saw and picks the write that fits it: for an
// idle bucket "set tat = now + interval if tat <= now", for a busy one
// "tat = tat + interval if now <= tat <= now + tolerance". When the guess
// was wrong, the failed condition returns the item as it is
// (ReturnValuesOnConditionCheckFailure), so the second try is right without
// a read. A refusal that the remembered TAT already proves costs nothing,
// because the TAT only ever grows.
type Limiter struct {
	db     *dynamodb.Client
	table  string
	key    string
	policy ratelimit.Policy
	now    func() time.Time
	seen   atomic.Int64 // the last TAT this limiter saw, Unix ns
}

var _ service.Account = (*Limiter)(nil)

// limiterTTL keeps an idle bucket's item this long past its TAT; once
// DynamoDB deletes it the bucket is full, as it would be anyway.
const limiterTTL = 24 * time.Hour

// takeRounds bounds the writes of one Take under heavy contention.
const takeRounds = 4

// NewLimiter returns the bucket named name (one item, "limiter#name") in
// table. now may be nil for the wall clock.
func NewLimiter(db *dynamodb.Client, table, name string, p ratelimit.Policy, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{db: db, table: table, key: "limiter#" + name, policy: p, now: now}
}

// Take implements service.RateLimiter.
func (l *Limiter) Take(ctx context.Context, tier generation.Tier, waited time.Duration) (service.Grant, error) {
	now := l.now()
	nowNs := now.UnixNano()
	tat := l.seen.Load()
	for range takeRounds {
		newTAT, ok, wait := l.policy.Decide(time.Unix(0, tat), now, tier, waited)
		if !ok {
			// The stored TAT is at least the one seen, so this is a refusal
			// whatever it is now; wait may be a little short, which only
			// makes the caller ask again a little early.
			return service.Grant{RetryAfter: wait}, nil
		}
		in := &dynamodb.UpdateItemInput{
			TableName: aws.String(l.table),
			Key:       keyOf(l.key),
			// The whole item: the breaker comes with the token.
			ReturnValues:                        types.ReturnValueAllNew,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}
		exp := num(newTAT.Add(limiterTTL).Unix())
		if tat <= nowNs {
			in.UpdateExpression = aws.String("SET tat = :new, expiresAt = :exp")
			in.ConditionExpression = aws.String("attribute_not_exists(tat) OR tat <= :now")
			in.ExpressionAttributeValues = map[string]types.AttributeValue{
				":new": num(newTAT.UnixNano()), ":now": num(nowNs), ":exp": exp,
			}
		} else {
			in.UpdateExpression = aws.String("SET tat = tat + :interval, expiresAt = :exp")
			in.ConditionExpression = aws.String("tat BETWEEN :now AND :limit")
			in.ExpressionAttributeValues = map[string]types.AttributeValue{
				":interval": num(l.policy.Interval().Nanoseconds()),
				":now":      num(nowNs),
				":limit":    num(nowNs + l.policy.Tolerance(tier, waited).Nanoseconds()),
				":exp":      exp,
			}
		}
		out, err := l.db.UpdateItem(ctx, in)
		if err == nil {
			l.observe(out.Attributes)
			b, err := breakerOf(out.Attributes)
			return service.Grant{OK: true, Breaker: b, BreakerKnown: err == nil}, nil
		}
		cf, failed := isConditionFailed(err)
		if !failed {
			return service.Grant{}, fmt.Errorf("rate limiter: %w", err)
		}
		tat = l.observe(cf.Item)
	}
	// Lost every round to other workers: the bucket is busy, so waiting one
	// interval is the honest answer.
	return service.Grant{RetryAfter: l.policy.Interval()}, nil
}

// observe records the TAT of a returned item and returns it (0 for none).
func (l *Limiter) observe(av map[string]types.AttributeValue) int64 {
	n, ok := av["tat"].(*types.AttributeValueMemberN)
	if !ok {
		return 0
	}
	tat, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		return 0
	}
	for {
		old := l.seen.Load()
		if tat <= old || l.seen.CompareAndSwap(old, tat) {
			break
		}
	}
	return tat
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
