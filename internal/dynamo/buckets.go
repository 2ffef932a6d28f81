package dynamo

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/songqueue/songqueue/internal/throttle"
)

// Buckets are the request buckets of package throttle, one small item per
// key ("bucket#<key>") in the generations table, so that every instance of
// every function takes from the same bucket. An item holds the bucket's
// TAT (attribute tat, Unix microseconds) and expiresAt, the table's TTL
// attribute, a minute past the TAT: once the TAT has passed, the bucket is
// full, as it is without an item.
//
// A request costs one conditional UpdateItem, of one of two forms:
//
//   - idle: SET tat = now + interval, if the item has no tat or its tat
//     has passed;
//   - busy: SET tat = tat + interval, if tat is ahead of now but by no
//     more than the burst allows.
//
// The busy form is an atomic addition, so concurrent requests on one
// bucket never conflict with each other: each adds its interval, and the
// condition refuses exactly the ones beyond the burst. A failed condition
// returns the item as it is (ReturnValuesOnConditionCheckFailure), which
// says which form applies, or proves the refusal, without a read: at most
// two writes a request, and a third when the item's TTL deletes it in
// between. The form tried first is the one the TAT this process last saw
// calls for; and while that TAT proves a refusal (the TAT only grows) the
// refusal costs no request at all, so a client that keeps knocking past
// its limit is turned away by the instance it reaches, not by DynamoDB.
//
// A write the SDK repeats because its answer was lost may take a second
// interval: the limit errs on the strict side, by one request, then.
type Buckets struct {
	db    *dynamodb.Client
	table string
	now   func() time.Time

	mu    sync.Mutex
	seen  map[string]int64 // the last TAT seen of each key, Unix µs
	swept time.Time
}

var _ throttle.Store = (*Buckets)(nil)

// bucketRounds bounds the writes of one Take.
const bucketRounds = 4

// bucketTTL keeps an item this long after its TAT has passed.
const bucketTTL = time.Minute

// maxSeen bounds the TATs a process remembers; past it, the oldest
// knowledge is dropped (it only saves requests).
const maxSeen = 100_000

// NewBuckets returns the buckets of table on clock now (nil: the wall
// clock).
func NewBuckets(db *dynamodb.Client, table string, now func() time.Time) *Buckets {
	if now == nil {
		now = time.Now
	}
	return &Buckets{db: db, table: table, now: now, seen: map[string]int64{}}
}

// BucketKey is the item key of bucket key: "bucket#" and the key, or its
// SHA-256 when the key is too long for a partition key with room to spare
// (a user id is whatever an identity provider issues).
func BucketKey(key string) string {
	if len(key) > 1024 {
		sum := sha256.Sum256([]byte(key))
		return "bucket#sha256#" + base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return "bucket#" + key
}

// Take implements throttle.Store.
func (b *Buckets) Take(ctx context.Context, key string, l throttle.Limit) (throttle.Decision, error) {
	if l.Off() {
		return throttle.Decision{OK: true}, nil
	}
	now := b.now().UnixMicro()
	step := l.Interval().Microseconds()
	tolerance := l.Tolerance().Microseconds()
	// The busy form's condition: tat + step - tolerance <= now.
	highest := now + tolerance - step
	tat := b.lastSeen(key, now)
	for range bucketRounds {
		if tat > highest {
			// The stored TAT is at least this one: refused.
			return throttle.Decision{RetryAfter: time.Duration(tat-highest) * time.Microsecond}, nil
		}
		in := &dynamodb.UpdateItemInput{
			TableName:                           aws.String(b.table),
			Key:                                 keyOf(BucketKey(key)),
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}
		if tat <= now {
			next := now + step
			in.UpdateExpression = aws.String("SET tat = :next, expiresAt = :exp")
			in.ConditionExpression = aws.String("attribute_not_exists(tat) OR tat <= :now")
			in.ExpressionAttributeValues = map[string]types.AttributeValue{
				":next": num(next), ":now": num(now), ":exp": num(expiry(next)),
			}
		} else {
			in.UpdateExpression = aws.String("SET tat = tat + :step, expiresAt = :exp")
			in.ConditionExpression = aws.String("tat > :now AND tat <= :highest")
			in.ExpressionAttributeValues = map[string]types.AttributeValue{
				":step": num(step), ":now": num(now), ":highest": num(highest), ":exp": num(expiry(highest + step)),
			}
			in.ReturnValues = types.ReturnValueUpdatedNew
		}
		out, err := b.db.UpdateItem(ctx, in)
		if err == nil {
			next := now + step
			if v, ok := tatOf(out.Attributes); ok {
				next = v
			}
			b.remember(key, next)
			return throttle.Decision{OK: true}, nil
		}
		cf, failed := isConditionFailed(err)
		if !failed {
			return throttle.Decision{}, fmt.Errorf("request bucket %s: %w", key, err)
		}
		// The item as it is says which form applies, or that the request
		// is refused; none (deleted by its TTL): the bucket is full.
		tat, _ = tatOf(cf.Item)
		b.remember(key, tat)
	}
	// Lost every round (the item changed form under each write): too
	// busy to tell, so one interval is the honest wait.
	return throttle.Decision{RetryAfter: l.Interval()}, nil
}

// expiry is the TTL of an item whose TAT is tat (µs): a minute after it,
// in epoch seconds.
func expiry(tat int64) int64 {
	return time.UnixMicro(tat).Add(bucketTTL).Unix() + 1
}

func tatOf(av map[string]types.AttributeValue) (int64, bool) {
	n, ok := av["tat"].(*types.AttributeValueMemberN)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	return v, err == nil
}

// lastSeen is the TAT this process last saw of key, or 0.
func (b *Buckets) lastSeen(key string, now int64) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if t := time.UnixMicro(now); t.Sub(b.swept) >= time.Second {
		b.swept = t
		for k, v := range b.seen {
			if v <= now {
				delete(b.seen, k) // full again: as good as unknown
			}
		}
	}
	return b.seen[key]
}

// remember keeps tat as key's last seen TAT; it never moves back, since
// the stored one never does (but for its TTL, when it has passed anyway).
func (b *Buckets) remember(key string, tat int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if tat <= 0 {
		delete(b.seen, key)
		return
	}
	if len(b.seen) >= maxSeen {
		clear(b.seen)
	}
	if tat > b.seen[key] {
		b.seen[key] = tat
	}
}
