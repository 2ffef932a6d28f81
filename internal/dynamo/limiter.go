package dynamo

import (
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/songqueue/songqueue/internal/generation"
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

var _ service.RateLimiter = (*Limiter)(nil)

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
func (l *Limiter) Take(ctx context.Context, tier generation.Tier, waited time.Duration) (bool, time.Duration, error) {
	now := l.now()
	nowNs := now.UnixNano()
	tat := l.seen.Load()
	for range takeRounds {
		newTAT, ok, wait := l.policy.Decide(time.Unix(0, tat), now, tier, waited)
		if !ok {
			// The stored TAT is at least the one seen, so this is a refusal
			// whatever it is now; wait may be a little short, which only
			// makes the caller ask again a little early.
			return false, wait, nil
		}
		in := &dynamodb.UpdateItemInput{
			TableName:                           aws.String(l.table),
			Key:                                 keyOf(l.key),
			ReturnValues:                        types.ReturnValueUpdatedNew,
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
			return true, 0, nil
		}
		cf, failed := isConditionFailed(err)
		if !failed {
			return false, 0, fmt.Errorf("rate limiter: %w", err)
		}
		tat = l.observe(cf.Item)
	}
	// Lost every round to other workers: the bucket is busy, so waiting one
	// interval is the honest answer.
	return false, l.policy.Interval(), nil
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
