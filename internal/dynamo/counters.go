package dynamo

import (
	"context"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

func counterKey(t generation.Tier, shard int) string {
	return "count#" + string(t) + "#" + strconv.Itoa(shard)
}

func (s *Store) shard(id string) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % uint32(s.opt.CounterShards))
}

// counterUpdate moves one generation of g's tier from one status to
// another; from is empty for a new generation.
func (s *Store) counterUpdate(g generation.Generation, from, to generation.Status) types.TransactWriteItem {
	names := map[string]string{"#to": string(to)}
	values := map[string]types.AttributeValue{":one": num(1)}
	expr := "ADD #to :one"
	if to == generation.Pending && from != to {
		names["#entered"] = attrEntered
		expr += ", #entered :one"
	}
	if from != "" {
		names["#from"] = string(from)
		values[":minus"] = num(-1)
		expr += ", #from :minus"
	}
	return types.TransactWriteItem{Update: &types.Update{
		TableName:                 aws.String(s.generations),
		Key:                       keyOf(counterKey(g.Tier, s.shard(g.ID))),
		UpdateExpression:          aws.String(expr),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	}}
}

// counterRemove takes one generation of g's tier and status off the
// counters, for a deleted generation.
func (s *Store) counterRemove(g generation.Generation) types.TransactWriteItem {
	return types.TransactWriteItem{Update: &types.Update{
		TableName:                 aws.String(s.generations),
		Key:                       keyOf(counterKey(g.Tier, s.shard(g.ID))),
		UpdateExpression:          aws.String("ADD #st :minus"),
		ExpressionAttributeNames:  map[string]string{"#st": string(g.Status)},
		ExpressionAttributeValues: map[string]types.AttributeValue{":minus": num(-1)},
	}}
}

// attrEntered counts, on each counter shard, the generations that have
// ever entered the tier's line as pending: created, or sent back to wait.
const attrEntered = "entered"

// Counts implements service.Store: one BatchGetItem of every counter shard.
func (s *Store) Counts(ctx context.Context) (map[generation.Tier]service.StatusCounts, error) {
	raw, err := s.readCounters(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[generation.Tier]service.StatusCounts, len(raw))
	for t, attrs := range raw {
		c := service.StatusCounts{}
		for name, v := range attrs {
			if name != attrEntered {
				c[generation.Status(name)] = v
			}
		}
		out[t] = c
	}
	return out, nil
}

// Line implements service.Store from the same counter shards as Counts.
func (s *Store) Line(ctx context.Context) (map[generation.Tier]service.LineCounts, error) {
	raw, err := s.readCounters(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[generation.Tier]service.LineCounts, len(raw))
	for t, attrs := range raw {
		out[t] = service.LineCounts{Pending: attrs[string(generation.Pending)], Entered: attrs[attrEntered]}
	}
	return out, nil
}

// readCounters sums every counter shard's numbers per tier.
func (s *Store) readCounters(ctx context.Context) (map[generation.Tier]map[string]int64, error) {
	var ids []string
	for _, t := range generation.Tiers {
		for i := range s.opt.CounterShards {
			ids = append(ids, counterKey(t, i))
		}
	}
	out := map[generation.Tier]map[string]int64{}
	err := s.batchGetItems(ctx, ids, func(av map[string]types.AttributeValue) error {
		var key string
		if err := attributevalue.Unmarshal(av[AttrGenerationID], &key); err != nil {
			return fmt.Errorf("decode counter: %w", err)
		}
		parts := strings.Split(key, "#")
		if len(parts) != 3 {
			return fmt.Errorf("counter item %q is malformed", key)
		}
		tier := generation.Tier(parts[1])
		c := out[tier]
		if c == nil {
			c = map[string]int64{}
			out[tier] = c
		}
		for name, v := range av {
			n, ok := v.(*types.AttributeValueMemberN)
			if !ok || name == AttrGenerationID {
				continue
			}
			x, err := strconv.ParseInt(n.Value, 10, 64)
			if err != nil {
				return fmt.Errorf("counter %s.%s: %w", key, name, err)
			}
			c[name] += x
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read counters: %w", err)
	}
	return out, nil
}
