package dynamo

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// listCursor is the position after the last item of a page.
type listCursor struct {
	CreatedKey string `json:"k"`
	ID         string `json:"i"`
}

func encodeCursor(c listCursor) string {
	raw, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(raw)
}

func decodeCursor(s string) (listCursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	var c listCursor
	if err != nil || json.Unmarshal(raw, &c) != nil || c.ID == "" || strings.Contains(c.ID, "#") ||
		!strings.HasSuffix(c.CreatedKey, "#"+c.ID) {
		return listCursor{}, service.ErrInvalidCursor
	}
	return c, nil
}

// ListByUser implements service.Store: a query of byUser newest first,
// then one BatchGetItem for the page's items. The query asks for one key
// more than the page, so that a cursor is returned only when there is a
// next page.
func (s *Store) ListByUser(ctx context.Context, userID string, limit int, cur string) (service.Page, error) {
	limit = max(limit, 1)
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.generations),
		IndexName:                 aws.String(IndexByUser),
		KeyConditionExpression:    aws.String("userId = :u"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": str(userID)},
		ScanIndexForward:          aws.Bool(false),
	}
	if cur != "" {
		c, err := decodeCursor(cur)
		if err != nil {
			return service.Page{}, err
		}
		in.ExclusiveStartKey = map[string]types.AttributeValue{
			AttrGenerationID: str(c.ID), AttrUserID: str(userID), AttrCreatedKey: str(c.CreatedKey),
		}
	}
	var keys []listCursor
	for {
		in.Limit = aws.Int32(int32(limit + 1 - len(keys)))
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return service.Page{}, fmt.Errorf("list generations of %s: %w", userID, err)
		}
		for _, it := range out.Items {
			var k struct {
				ID         string `dynamodbav:"generationId"`
				CreatedKey string `dynamodbav:"createdKey"`
			}
			if err := attributevalue.UnmarshalMap(it, &k); err != nil {
				return service.Page{}, fmt.Errorf("decode index entry: %w", err)
			}
			keys = append(keys, listCursor{CreatedKey: k.CreatedKey, ID: k.ID})
		}
		if len(keys) > limit || len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	var page service.Page
	if len(keys) > limit {
		keys = keys[:limit]
		page.NextCursor = encodeCursor(keys[limit-1])
	}
	ids := make([]string, len(keys))
	for i, k := range keys {
		ids[i] = k.ID
	}
	found, err := s.batchGet(ctx, ids)
	if err != nil {
		return service.Page{}, err
	}
	for _, id := range ids {
		if g, ok := found[id]; ok {
			page.Items = append(page.Items, g)
		}
	}
	return page, nil
}

// Overdue implements service.Store from the sparse byDeadline index, which
// holds only generations with work left (generation.Open).
func (s *Store) Overdue(ctx context.Context, now time.Time, limit int) ([]generation.Generation, error) {
	if limit <= 0 {
		return nil, nil
	}
	in := &dynamodb.QueryInput{
		TableName:              aws.String(s.generations),
		IndexName:              aws.String(IndexByDeadline),
		KeyConditionExpression: aws.String("openShard = :o AND deadline < :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":o": str(openShardValue), ":now": str(formatTime(now)),
		},
		ScanIndexForward: aws.Bool(true),
		Limit:            aws.Int32(int32(limit)),
	}
	var ids []string
	for {
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("query overdue generations: %w", err)
		}
		for _, it := range out.Items {
			var id string
			if err := attributevalue.Unmarshal(it[AttrGenerationID], &id); err != nil {
				return nil, fmt.Errorf("decode index entry: %w", err)
			}
			ids = append(ids, id)
		}
		if len(ids) >= limit || len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
		in.Limit = aws.Int32(int32(limit - len(ids)))
	}
	found, err := s.batchGet(ctx, ids)
	if err != nil {
		return nil, err
	}
	var out []generation.Generation
	for _, g := range found {
		// The index is eventually consistent: drop what finished meanwhile.
		if g.Open() && g.Deadline.Before(now) {
			out = append(out, g)
		}
	}
	slices.SortFunc(out, func(a, b generation.Generation) int {
		return cmp.Or(a.Deadline.Compare(b.Deadline), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}
