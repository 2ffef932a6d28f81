package dynamo

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// listScanLimit bounds the index entries one page of an operator's listing
// reads when a filter the index cannot apply (pending or processing within
// "open", a tier within a user's history) skips most of them; the page then
// ends early with a cursor, and the next goes on from there.
const listScanLimit = 1000

// ListAll implements service.Store. A user's generations come from byUser;
// everyone's from byState, one partition per tier and state, merged newest
// first. Each page starts below the cursor's createdKey in every partition.
func (s *Store) ListAll(ctx context.Context, f service.Filter, limit int, cur string) (service.Page, error) {
	limit = max(limit, 1)
	below := ""
	if cur != "" {
		c, err := decodeCursor(cur)
		if err != nil {
			return service.Page{}, err
		}
		below = c.CreatedKey
	}
	var parts []*partition
	if f.UserID != "" {
		parts = []*partition{{index: IndexByUser, attr: AttrUserID, value: f.UserID}}
	} else {
		for _, t := range tiersOf(f.Tier) {
			for _, st := range statesOf(f.Status) {
				parts = append(parts, &partition{index: IndexByState, attr: AttrTierState, value: tierState(t, st)})
			}
		}
	}
	for _, p := range parts {
		p.below, p.more = below, true
	}
	var page service.Page
	seen := map[string]bool{}
	scanned, examined := 0, ""
	for len(page.Items) <= limit && scanned < listScanLimit {
		var batch []listCursor
		for len(batch) < limit+1 {
			k, ok, err := s.nextNewest(ctx, parts, limit+1)
			if err != nil {
				return service.Page{}, err
			}
			if !ok {
				break
			}
			if !seen[k.ID] { // an entry moving between partitions may show twice
				seen[k.ID] = true
				batch = append(batch, k)
			}
		}
		if len(batch) == 0 {
			break
		}
		scanned += len(batch)
		ids := make([]string, len(batch))
		for i, k := range batch {
			ids[i] = k.ID
		}
		found, err := s.batchGet(ctx, ids)
		if err != nil {
			return service.Page{}, err
		}
		for _, k := range batch {
			if len(page.Items) == limit {
				// One more match exists: the page is full and has a next.
				if g, ok := found[k.ID]; ok && f.Match(g) {
					page.NextCursor = encodeCursor(lastCursor(page.Items))
					return page, nil
				}
				continue
			}
			if g, ok := found[k.ID]; ok && f.Match(g) {
				page.Items = append(page.Items, g)
			}
			examined = k.CreatedKey
		}
	}
	if scanned >= listScanLimit && !exhausted(parts) {
		// Stopped early: what was read after the page's last item did not
		// match, so the next page goes on from the last entry read.
		id := examined[strings.LastIndex(examined, "#")+1:]
		page.NextCursor = encodeCursor(listCursor{CreatedKey: examined, ID: id})
	}
	return page, nil
}

func lastCursor(items []generation.Generation) listCursor {
	g := items[len(items)-1]
	return listCursor{CreatedKey: createdKey(g.CreatedAt, g.ID), ID: g.ID}
}

func tiersOf(t generation.Tier) []generation.Tier {
	if t != "" {
		return []generation.Tier{t}
	}
	return generation.Tiers[:]
}

// statesOf are the byState states that hold generations of status st.
func statesOf(st generation.Status) []generation.Status {
	switch {
	case st == "":
		return []generation.Status{generation.Pending, generation.Completed, generation.Failed, generation.Cancelled}
	case st.Terminal():
		return []generation.Status{st}
	}
	return []generation.Status{generation.Pending} // "open"
}

// partition streams one index partition's keys, newest first.
type partition struct {
	index, attr, value string
	below              string // only keys below this createdKey
	buf                []listCursor
	start              map[string]types.AttributeValue
	more               bool
}

func exhausted(parts []*partition) bool {
	for _, p := range parts {
		if len(p.buf) > 0 || p.more {
			return false
		}
	}
	return true
}

// nextNewest takes the newest key at the head of any partition, reading
// each partition's next page of keys when its buffer runs out.
func (s *Store) nextNewest(ctx context.Context, parts []*partition, pageSize int) (listCursor, bool, error) {
	var best *partition
	for _, p := range parts {
		if len(p.buf) == 0 && p.more {
			if err := s.fill(ctx, p, pageSize); err != nil {
				return listCursor{}, false, err
			}
		}
		if len(p.buf) > 0 && (best == nil || p.buf[0].CreatedKey > best.buf[0].CreatedKey) {
			best = p
		}
	}
	if best == nil {
		return listCursor{}, false, nil
	}
	k := best.buf[0]
	best.buf = best.buf[1:]
	return k, true, nil
}

func (s *Store) fill(ctx context.Context, p *partition, pageSize int) error {
	cond := "#p = :p"
	values := map[string]types.AttributeValue{":p": str(p.value)}
	if p.below != "" {
		cond += " AND createdKey < :below"
		values[":below"] = str(p.below)
	}
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.generations),
		IndexName:                 aws.String(p.index),
		KeyConditionExpression:    aws.String(cond),
		ExpressionAttributeNames:  map[string]string{"#p": p.attr},
		ExpressionAttributeValues: values,
		ScanIndexForward:          aws.Bool(false),
		ExclusiveStartKey:         p.start,
		Limit:                     aws.Int32(int32(pageSize)),
	})
	if err != nil {
		return fmt.Errorf("list %s %s: %w", p.index, p.value, err)
	}
	for _, it := range out.Items {
		var k struct {
			ID         string `dynamodbav:"generationId"`
			CreatedKey string `dynamodbav:"createdKey"`
		}
		if err := attributevalue.UnmarshalMap(it, &k); err != nil {
			return fmt.Errorf("decode index entry: %w", err)
		}
		p.buf = append(p.buf, listCursor{CreatedKey: k.CreatedKey, ID: k.ID})
	}
	p.start = out.LastEvaluatedKey
	p.more = len(out.LastEvaluatedKey) > 0
	return nil
}

// Delayed implements service.Store: per tier, one count of byWait, which
// holds only waiting generations, past their wait or not.
func (s *Store) Delayed(ctx context.Context, now time.Time) (map[generation.Tier]int64, error) {
	return s.countWaiting(ctx, "delayed", func(t generation.Tier) string { return string(t) }, "waitTier = :t AND waitUntil > :now", map[string]types.AttributeValue{":now": str(formatTime(now))})
}

// heldWaitTier is the byWait partition of a tier's held generations.
func heldWaitTier(t generation.Tier) string { return string(t) + "#held" }

// Held implements service.Store: a count of each tier's held partition of
// byWait (keys only), which holds nothing but the held generations.
func (s *Store) Held(ctx context.Context) (map[generation.Tier]int64, error) {
	return s.countWaiting(ctx, "held", heldWaitTier, "waitTier = :t", nil)
}

// countWaiting counts, for each tier, the byWait entries of the partition
// partition(tier) that cond selects (:t is the partition).
func (s *Store) countWaiting(ctx context.Context, what string, partition func(generation.Tier) string, cond string, values map[string]types.AttributeValue) (map[generation.Tier]int64, error) {
	out := map[generation.Tier]int64{}
	for _, t := range generation.Tiers {
		vals := map[string]types.AttributeValue{":t": str(partition(t))}
		maps.Copy(vals, values)
		in := &dynamodb.QueryInput{
			TableName:                 aws.String(s.generations),
			IndexName:                 aws.String(IndexByWait),
			KeyConditionExpression:    aws.String(cond),
			ExpressionAttributeValues: vals,
			Select:                    types.SelectCount,
		}
		for {
			res, err := s.db.Query(ctx, in)
			if err != nil {
				return nil, fmt.Errorf("count %s %s generations: %w", what, t, err)
			}
			out[t] += int64(res.Count)
			if len(res.LastEvaluatedKey) == 0 {
				break
			}
			in.ExclusiveStartKey = res.LastEvaluatedKey
		}
	}
	return out, nil
}

// Delete implements service.Store: the generation, if still finished and at
// its version, and its count, in one transaction.
func (s *Store) Delete(ctx context.Context, g generation.Generation) error {
	if !g.Status.Terminal() {
		return service.ErrConflict
	}
	items := []types.TransactWriteItem{
		{Delete: &types.Delete{
			TableName:                           aws.String(s.generations),
			Key:                                 keyOf(g.ID),
			ConditionExpression:                 aws.String("version = :v AND #status = :st"),
			ExpressionAttributeNames:            map[string]string{"#status": "status"},
			ExpressionAttributeValues:           map[string]types.AttributeValue{":v": num(g.Version), ":st": str(string(g.Status))},
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		}},
		s.counterRemove(g),
	}
	for i := 0; ; i++ {
		_, err := s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			return nil
		}
		reasons := cancellation(err)
		if reasonCode(reasons, 0) == "ConditionalCheckFailed" {
			return lost(reasons[0].Item)
		}
		if conflicted(err) && i < transactAttempts-1 {
			if err := pause(ctx, i); err != nil {
				return err
			}
			continue
		}
		return fmt.Errorf("delete generation %s: %w", g.ID, err)
	}
}

// pausedKey is the control item that lists the paused tiers.
const pausedKey = "control#paused"

// Paused implements service.Controls with one strongly consistent read, so
// a pause holds for every worker from the moment it is set.
func (s *Store) Paused(ctx context.Context) (map[generation.Tier]bool, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.generations), Key: keyOf(pausedKey), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("read paused tiers: %w", err)
	}
	paused := map[generation.Tier]bool{}
	if ss, ok := out.Item["tiers"].(*types.AttributeValueMemberSS); ok {
		for _, t := range ss.Value {
			paused[generation.Tier(t)] = true
		}
	}
	return paused, nil
}

// SetPaused implements service.Controls: the tier joins or leaves the
// item's string set, so concurrent pauses of different tiers both hold.
func (s *Store) SetPaused(ctx context.Context, t generation.Tier, paused bool) error {
	op := "DELETE"
	if paused {
		op = "ADD"
	}
	_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.generations),
		Key:                       keyOf(pausedKey),
		UpdateExpression:          aws.String(op + " tiers :t"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": &types.AttributeValueMemberSS{Value: []string{string(t)}}},
	})
	if err != nil {
		return fmt.Errorf("set %s paused=%t: %w", t, paused, err)
	}
	return nil
}
