package dynamo

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// A user's quota item, beside the generations:
//
//	generationId  quota#<user id, base64url>
//	open          unfinished generations holding a slot (ADD on create and on the end)
//	held          the release times (Unix milliseconds) of the slots kept by
//	              songs cancelled while Suno was making them
//	              (generation.SlotUntil): appended by the cancel, which
//	              bumps ver; the expired ones dropped by the next create
//	creates       the recent create times, oldest first, as big-endian uint64
//	              Unix milliseconds: at most QUOTA_DAILY of them (1,000: 8 KB)
//	ver           bumped by every create, which writes only if it is still
//	              the version it read: quota checks are exact under concurrency
func quotaKey(userID string) string {
	return "quota#" + base64.RawURLEncoding.EncodeToString([]byte(userID))
}

type quotaState struct {
	exists  bool
	open    int
	held    []time.Time
	creates []time.Time
	ver     int64
}

func (s *Store) readQuota(ctx context.Context, userID string) (quotaState, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.generations), Key: keyOf(quotaKey(userID)), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return quotaState{}, fmt.Errorf("read the quota of %s: %w", userID, err)
	}
	st := quotaState{exists: len(out.Item) > 0}
	if n, ok := out.Item["open"].(*types.AttributeValueMemberN); ok {
		st.open, _ = strconv.Atoi(n.Value)
	}
	if n, ok := out.Item["ver"].(*types.AttributeValueMemberN); ok {
		st.ver, _ = strconv.ParseInt(n.Value, 10, 64)
	}
	if l, ok := out.Item["held"].(*types.AttributeValueMemberL); ok {
		for _, v := range l.Value {
			if n, ok := v.(*types.AttributeValueMemberN); ok {
				ms, _ := strconv.ParseInt(n.Value, 10, 64)
				st.held = append(st.held, time.UnixMilli(ms))
			}
		}
	}
	if b, ok := out.Item["creates"].(*types.AttributeValueMemberB); ok {
		for i := 0; i+8 <= len(b.Value); i += 8 {
			st.creates = append(st.creates, time.UnixMilli(int64(binary.BigEndian.Uint64(b.Value[i:]))))
		}
	}
	return st, nil
}

// QuotaState implements service.Store: one strongly consistent GetItem of
// the user's quota item, the read Create checks the quota against.
func (s *Store) QuotaState(ctx context.Context, userID string) (service.QuotaState, error) {
	st, err := s.readQuota(ctx, userID)
	if err != nil {
		return service.QuotaState{}, err
	}
	return service.QuotaState{Open: st.open, Held: st.held, Creates: st.creates}, nil
}

// quotaUpdate counts a create of g against its owner's quota item, on
// condition that the item is still at the version st was read at.
func (s *Store) quotaUpdate(g generation.Generation, st quotaState, q service.Quota, now time.Time) types.TransactWriteItem {
	inc := 0
	if g.HoldsQuota {
		inc = 1
	}
	update := "ADD #open :inc SET ver = :next"
	values := map[string]types.AttributeValue{":inc": num(inc), ":next": num(st.ver + 1)}
	if q.Daily > 0 {
		recent := append(q.Recent(st.creates, now), now)
		packed := make([]byte, 0, 8*len(recent))
		for _, t := range recent {
			packed = binary.BigEndian.AppendUint64(packed, uint64(t.UnixMilli()))
		}
		update += ", creates = :creates"
		values[":creates"] = &types.AttributeValueMemberB{Value: packed}
	}
	if live := service.Holding(st.held, now); len(live) < len(st.held) {
		if len(live) == 0 {
			update += " REMOVE held"
		} else {
			update += ", held = :held"
			values[":held"] = heldList(live)
		}
	}
	cond := "attribute_not_exists(ver)"
	if st.exists {
		cond = "ver = :ver"
		values[":ver"] = num(st.ver)
	}
	return types.TransactWriteItem{Update: &types.Update{
		TableName: aws.String(s.generations), Key: keyOf(quotaKey(g.UserID)),
		UpdateExpression: aws.String(update), ConditionExpression: aws.String(cond),
		ExpressionAttributeNames: map[string]string{"#open": "open"}, ExpressionAttributeValues: values,
	}}
}

// quotaRelease frees g's slot when it ends; a song cancelled while Suno
// was making it keeps the slot until g.SlotUntil, in the held list, and
// bumps the version so that a create that read the list before writes it
// again only after reading it anew. It has no condition: a missing item
// must never keep a generation from finishing.
func (s *Store) quotaRelease(g generation.Generation) types.TransactWriteItem {
	update := "ADD #open :dec"
	values := map[string]types.AttributeValue{":dec": num(-1)}
	if g.SlotUntil.After(s.opt.Now()) {
		update = "ADD #open :dec, ver :one SET held = list_append(if_not_exists(held, :none), :until)"
		values[":one"] = num(1)
		values[":none"] = &types.AttributeValueMemberL{Value: []types.AttributeValue{}}
		values[":until"] = heldList([]time.Time{g.SlotUntil})
	}
	return types.TransactWriteItem{Update: &types.Update{
		TableName: aws.String(s.generations), Key: keyOf(quotaKey(g.UserID)),
		UpdateExpression:          aws.String(update),
		ExpressionAttributeNames:  map[string]string{"#open": "open"},
		ExpressionAttributeValues: values,
	}}
}

// heldList is the held attribute's value for times.
func heldList(times []time.Time) types.AttributeValue {
	l := make([]types.AttributeValue, len(times))
	for i, t := range times {
		// Rounded up, so a hold never ends early.
		ms := t.UnixMilli()
		if t.After(time.UnixMilli(ms)) {
			ms++
		}
		l[i] = num(ms)
	}
	return &types.AttributeValueMemberL{Value: l}
}

// replay returns the generation a live idempotency key of user points to.
func (s *Store) replay(ctx context.Context, userID, key string) (generation.Generation, bool, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.generations), Key: keyOf(idempotencyKey(userID, key)), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return generation.Generation{}, false, fmt.Errorf("read idempotency key %q: %w", key, err)
	}
	target, _ := out.Item["target"].(*types.AttributeValueMemberS)
	exp, _ := out.Item[AttrExpiresAt].(*types.AttributeValueMemberN)
	if target == nil || exp == nil {
		return generation.Generation{}, false, nil
	}
	if e, _ := strconv.ParseInt(exp.Value, 10, 64); e < s.opt.Now().Unix() {
		return generation.Generation{}, false, nil
	}
	g, err := s.Get(ctx, target.Value)
	if errors.Is(err, service.ErrNotFound) {
		return generation.Generation{}, false, service.ErrKeyDeleted
	}
	if err != nil {
		return generation.Generation{}, false, err
	}
	return g, true, nil
}
