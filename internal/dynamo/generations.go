package dynamo

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// idempotencyKey is the key of an idempotency item. The user id is encoded
// so that no user id and key pair can spell another's.
func idempotencyKey(userID, key string) string {
	return "idem#" + base64.RawURLEncoding.EncodeToString([]byte(userID)) + "#" + key
}

// Create implements service.Store with one transaction: the generation
// (which must be new), the idempotency item (which must be new or expired),
// the pending counter and, with a quota, the owner's quota item (which must
// be at the version its check read).
func (s *Store) Create(ctx context.Context, g generation.Generation, key string, quota service.Quota) (generation.Generation, bool, error) {
	g.Version = 1
	av, err := marshalGeneration(g)
	if err != nil {
		return generation.Generation{}, false, err
	}
	items := []types.TransactWriteItem{
		{Put: &types.Put{
			TableName:           aws.String(s.generations),
			Item:                av,
			ConditionExpression: aws.String("attribute_not_exists(generationId)"),
		}},
		s.counterUpdate(g, "", g.Status),
	}
	const idem = 2
	if key != "" {
		now := s.opt.Now()
		items = append(items, types.TransactWriteItem{Put: &types.Put{
			TableName: aws.String(s.generations),
			Item: map[string]types.AttributeValue{
				AttrGenerationID: str(idempotencyKey(g.UserID, key)),
				"target":         str(g.ID),
				"owner":          str(g.UserID),
				AttrExpiresAt:    num(now.Add(s.opt.IdempotencyTTL).Unix()),
			},
			// DynamoDB deletes expired items within days, not at once:
			// an expired key is as good as none.
			ConditionExpression:                 aws.String("attribute_not_exists(generationId) OR expiresAt < :now"),
			ExpressionAttributeValues:           map[string]types.AttributeValue{":now": num(now.Unix())},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}})
	}
	limited := quota.Open > 0 || quota.Daily > 0
	base := items
	for i, lostRaces := 0, 0; ; i++ {
		items = base
		if limited {
			now := s.opt.Now()
			st, err := s.readQuota(ctx, g.UserID)
			if err != nil {
				return generation.Generation{}, false, err
			}
			if refused := quota.Admit(st.open, st.held, st.creates, now); refused != nil {
				// A replay is never refused.
				if key != "" {
					if first, ok, err := s.replay(ctx, g.UserID, key); err != nil || ok {
						return first, false, err
					}
				}
				return generation.Generation{}, false, refused
			}
			items = append(slices.Clone(base), s.quotaUpdate(g, st, quota, now))
		}
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			return g, true, nil
		}
		reasons := cancellation(err)
		replayed := key != "" && reasonCode(reasons, idem) == "ConditionalCheckFailed"
		if limited && !replayed && reasonCode(reasons, len(items)-1) == "ConditionalCheckFailed" {
			// Another create of the same user counted first: check again.
			if lostRaces++; lostRaces < quotaRaces {
				i--
				continue
			}
			return generation.Generation{}, false, fmt.Errorf("create generation %s: the quota item kept changing", g.ID)
		}
		if replayed {
			var old struct {
				Target string `dynamodbav:"target"`
			}
			if err := attributevalue.UnmarshalMap(reasons[idem].Item, &old); err != nil || old.Target == "" {
				return generation.Generation{}, false, fmt.Errorf("idempotency item for key %q is unreadable: %v", key, err)
			}
			first, err := s.Get(ctx, old.Target)
			if errors.Is(err, service.ErrNotFound) {
				return generation.Generation{}, false, service.ErrKeyDeleted
			}
			if err != nil {
				return generation.Generation{}, false, fmt.Errorf("generation %s of idempotency key %q: %w", old.Target, key, err)
			}
			return first, false, nil
		}
		if reasonCode(reasons, 0) == "ConditionalCheckFailed" {
			return generation.Generation{}, false, service.ErrConflict
		}
		if conflicted(err) && i < transactAttempts-1 {
			if err := pause(ctx, i); err != nil {
				return generation.Generation{}, false, err
			}
			continue
		}
		return generation.Generation{}, false, fmt.Errorf("create generation %s: %w", g.ID, err)
	}
}

// quotaRaces bounds how often a create re-checks a quota that another
// create of the same user changed under it; each loss means another create
// won, so a user's burst settles within its size.
const quotaRaces = 64

// Get implements service.Store with a strongly consistent read: workers
// claim what they read, and a stale read would only cost a lost write.
func (s *Store) Get(ctx context.Context, id string) (generation.Generation, error) {
	if id == "" || strings.Contains(id, "#") {
		return generation.Generation{}, service.ErrNotFound // control items are not generations
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.generations), Key: keyOf(id), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return generation.Generation{}, fmt.Errorf("get generation %s: %w", id, err)
	}
	if len(out.Item) == 0 {
		return generation.Generation{}, service.ErrNotFound
	}
	return unmarshalGeneration(out.Item)
}

// Save implements service.Store. The write is conditional on the version
// and status read, so a duplicate or late worker can neither move a
// generation backwards nor complete it twice. A change of status also moves
// the counters, in the same transaction; progress within a status is a
// plain conditional put.
func (s *Store) Save(ctx context.Context, g generation.Generation, from generation.Status) (generation.Generation, error) {
	next := g
	next.Version = g.Version + 1
	av, err := marshalGeneration(next)
	if err != nil {
		return generation.Generation{}, err
	}
	cond := aws.String("version = :v AND #status = :from")
	names := map[string]string{"#status": "status"}
	values := map[string]types.AttributeValue{":v": num(g.Version), ":from": str(string(from))}
	if from == g.Status {
		_, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(s.generations), Item: av,
			ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		if cf, ok := isConditionFailed(err); ok {
			return generation.Generation{}, lost(cf.Item)
		}
		if err != nil {
			return generation.Generation{}, fmt.Errorf("save generation %s: %w", g.ID, err)
		}
		return next, nil
	}
	items := []types.TransactWriteItem{
		{Put: &types.Put{
			TableName: aws.String(s.generations), Item: av,
			ConditionExpression: cond, ExpressionAttributeNames: names, ExpressionAttributeValues: values,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}},
		s.counterUpdate(g, from, g.Status),
	}
	if g.HoldsQuota && !from.Terminal() && g.Status.Terminal() {
		items = append(items, s.quotaRelease(g))
	}
	for i := 0; ; i++ {
		_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			return next, nil
		}
		reasons := cancellation(err)
		if reasonCode(reasons, 0) == "ConditionalCheckFailed" {
			return generation.Generation{}, lost(reasons[0].Item)
		}
		if conflicted(err) && i < transactAttempts-1 {
			if err := pause(ctx, i); err != nil {
				return generation.Generation{}, err
			}
			continue
		}
		return generation.Generation{}, fmt.Errorf("save generation %s: %w", g.ID, err)
	}
}

// lost tells a write that lost to another (ErrConflict) from one whose
// generation does not exist (ErrNotFound), by the item the failed condition
// saw.
func lost(old map[string]types.AttributeValue) error {
	if len(old) == 0 {
		return service.ErrNotFound
	}
	return service.ErrConflict
}

// batchGet reads generations by id, strongly consistent, 100 at a time.
func (s *Store) batchGet(ctx context.Context, ids []string) (map[string]generation.Generation, error) {
	out := make(map[string]generation.Generation, len(ids))
	err := s.batchGetItems(ctx, ids, func(av map[string]types.AttributeValue) error {
		g, err := unmarshalGeneration(av)
		if err != nil {
			return err
		}
		out[g.ID] = g
		return nil
	})
	return out, err
}

func (s *Store) batchGetItems(ctx context.Context, ids []string, each func(map[string]types.AttributeValue) error) error {
	for chunk := range slices.Chunk(ids, 100) {
		keys := make([]map[string]types.AttributeValue, len(chunk))
		for i, id := range chunk {
			keys[i] = keyOf(id)
		}
		req := map[string]types.KeysAndAttributes{s.generations: {Keys: keys, ConsistentRead: aws.Bool(true)}}
		for i := 0; len(req) > 0; i++ {
			if i > 0 {
				if err := pause(ctx, min(i, 6)); err != nil {
					return err
				}
			}
			res, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
			if err != nil {
				return fmt.Errorf("read %d items: %w", len(chunk), err)
			}
			for _, av := range res.Responses[s.generations] {
				if err := each(av); err != nil {
					return err
				}
			}
			req = res.UnprocessedKeys
		}
	}
	return nil
}
