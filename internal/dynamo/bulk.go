package dynamo

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/songqueue/songqueue/internal/service"
)

// Bulk actions and the audit log are control items of the generations
// table: "bulk#<id>" holds one bulk action as JSON (attribute bulk) with
// its version (bver), and "audit#<day>" a day's audit entries, oldest
// first (attribute entries, a list of JSON strings, appended to). Both
// expire through the table's TTL.
const (
	bulkTTL  = 30 * 24 * time.Hour
	auditTTL = 90 * 24 * time.Hour
	// auditDays is how many days back RecentAudit looks.
	auditDays = 7
)

func bulkKey(id string) string { return "bulk#" + id }

func auditKey(day time.Time) string { return "audit#" + day.UTC().Format(time.DateOnly) }

// CreateBulk implements service.BulkStore.
func (s *Store) CreateBulk(ctx context.Context, b service.Bulk) error {
	b.Version = 1
	body, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("encode bulk action: %w", err)
	}
	item := keyOf(bulkKey(b.ID))
	item["bulk"], item["bver"] = str(string(body)), num(1)
	item[AttrExpiresAt] = num(expirySeconds(s.opt.Now().Add(bulkTTL)))
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.generations), Item: item,
		ConditionExpression: aws.String("attribute_not_exists(generationId)"),
	})
	if _, ok := isConditionFailed(err); ok {
		return service.ErrConflict
	}
	if err != nil {
		return fmt.Errorf("put bulk action %s: %w", b.ID, err)
	}
	return nil
}

// Bulk implements service.BulkStore: one strongly consistent read.
func (s *Store) Bulk(ctx context.Context, id string) (service.Bulk, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.generations), Key: keyOf(bulkKey(id)), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return service.Bulk{}, fmt.Errorf("get bulk action %s: %w", id, err)
	}
	v, ok := out.Item["bulk"].(*types.AttributeValueMemberS)
	if !ok {
		return service.Bulk{}, service.ErrNotFound
	}
	var b service.Bulk
	if err := json.Unmarshal([]byte(v.Value), &b); err != nil {
		return service.Bulk{}, fmt.Errorf("decode bulk action %s: %w", id, err)
	}
	if n, ok := out.Item["bver"].(*types.AttributeValueMemberN); ok {
		b.Version, _ = strconv.ParseInt(n.Value, 10, 64)
	}
	return b, nil
}

// SaveBulk implements service.BulkStore: a write conditional on the
// version.
func (s *Store) SaveBulk(ctx context.Context, b service.Bulk) (service.Bulk, error) {
	prev := b.Version
	b.Version++
	body, err := json.Marshal(b)
	if err != nil {
		return service.Bulk{}, fmt.Errorf("encode bulk action: %w", err)
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.generations),
		Key:                       keyOf(bulkKey(b.ID)),
		UpdateExpression:          aws.String("SET #bulk = :b, bver = :next"),
		ConditionExpression:       aws.String("bver = :prev"),
		ExpressionAttributeNames:  map[string]string{"#bulk": "bulk"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":b": str(string(body)), ":next": num(b.Version), ":prev": num(prev)},
	})
	if _, ok := isConditionFailed(err); ok {
		return service.Bulk{}, service.ErrConflict
	}
	if err != nil {
		return service.Bulk{}, fmt.Errorf("save bulk action %s: %w", b.ID, err)
	}
	return b, nil
}

// RecordAudit implements service.AuditLog: one UpdateItem appending to
// the day's entries.
func (s *Store) RecordAudit(ctx context.Context, e service.AuditEntry) error {
	body, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode audit entry: %w", err)
	}
	_, err = s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.generations),
		Key:                      keyOf(auditKey(e.At)),
		UpdateExpression:         aws.String("SET entries = list_append(if_not_exists(entries, :none), :e), #exp = :exp"),
		ExpressionAttributeNames: map[string]string{"#exp": AttrExpiresAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":none": &types.AttributeValueMemberL{Value: []types.AttributeValue{}},
			":e":    &types.AttributeValueMemberL{Value: []types.AttributeValue{str(string(body))}},
			":exp":  num(expirySeconds(e.At.Add(auditTTL))),
		},
	})
	if err != nil {
		return fmt.Errorf("record audit entry: %w", err)
	}
	return nil
}

// RecentAudit implements service.AuditLog: a read per day, back from
// today, until limit entries or auditDays days.
func (s *Store) RecentAudit(ctx context.Context, limit int) ([]service.AuditEntry, error) {
	var out []service.AuditEntry
	day := s.opt.Now()
	for range auditDays {
		res, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.generations), Key: keyOf(auditKey(day))})
		if err != nil {
			return nil, fmt.Errorf("read audit entries: %w", err)
		}
		list, _ := res.Item["entries"].(*types.AttributeValueMemberL)
		if list != nil {
			for i := len(list.Value) - 1; i >= 0 && len(out) < limit; i-- {
				v, ok := list.Value[i].(*types.AttributeValueMemberS)
				if !ok {
					continue
				}
				var e service.AuditEntry
				if json.Unmarshal([]byte(v.Value), &e) == nil {
					out = append(out, e)
				}
			}
		}
		if len(out) >= limit {
			break
		}
		day = day.Add(-24 * time.Hour)
	}
	return out, nil
}
