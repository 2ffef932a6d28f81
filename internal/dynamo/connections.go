package dynamo

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// connection is a connection as stored.
type connection struct {
	ConnectionID string `dynamodbav:"connectionId"`
	UserID       string `dynamodbav:"userId"`
	Tier         string `dynamodbav:"tier,omitempty"`
	ConnectedAt  string `dynamodbav:"connectedAt,omitempty"`
	// ExpiresAt is the TTL attribute, in epoch seconds.
	ExpiresAt int64 `dynamodbav:"expiresAt,omitempty"`
}

// expirySeconds rounds up, so a connection is never forgotten early.
func expirySeconds(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// PutConnection implements service.Connections.
func (s *Store) PutConnection(ctx context.Context, c service.Connection) error {
	av, err := attributevalue.MarshalMap(connection{
		ConnectionID: c.ID, UserID: c.UserID, Tier: string(c.Tier),
		ConnectedAt: formatTime(c.ConnectedAt), ExpiresAt: expirySeconds(c.ExpiresAt),
	})
	if err != nil {
		return fmt.Errorf("encode connection %s: %w", c.ID, err)
	}
	if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.connections), Item: av}); err != nil {
		return fmt.Errorf("put connection %s: %w", c.ID, err)
	}
	return nil
}

// DeleteConnection implements service.Connections.
func (s *Store) DeleteConnection(ctx context.Context, id string) error {
	_, err := s.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.connections),
		Key:       map[string]types.AttributeValue{AttrConnectionID: str(id)},
	})
	if err != nil {
		return fmt.Errorf("delete connection %s: %w", id, err)
	}
	return nil
}

// ConnectedUsers implements service.Connections with a scan of the
// connections table, which holds only open connections (a few per person
// with the page open), reading only their users and expiries.
func (s *Store) ConnectedUsers(ctx context.Context, limit int) ([]string, error) {
	in := &dynamodb.ScanInput{
		TableName:                 aws.String(s.connections),
		ProjectionExpression:      aws.String("userId"),
		FilterExpression:          aws.String("attribute_not_exists(expiresAt) OR expiresAt > :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(s.opt.Now().Unix())},
	}
	seen := map[string]bool{}
	var out []string
	for {
		res, err := s.db.Scan(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("scan connections: %w", err)
		}
		for _, av := range res.Items {
			var c connection
			if err := attributevalue.UnmarshalMap(av, &c); err != nil {
				return nil, fmt.Errorf("decode connection: %w", err)
			}
			if !seen[c.UserID] {
				seen[c.UserID] = true
				out = append(out, c.UserID)
				if len(out) >= limit {
					return out, nil
				}
			}
		}
		if len(res.LastEvaluatedKey) == 0 {
			return out, nil
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
	}
}

// UserConnections implements service.Connections with one query of the
// byUser index. Connections past their expiry are left out: DynamoDB's TTL
// deletes them only eventually.
func (s *Store) UserConnections(ctx context.Context, userID string) ([]service.Connection, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.connections),
		IndexName:                 aws.String(IndexByUser),
		KeyConditionExpression:    aws.String("userId = :u"),
		FilterExpression:          aws.String("attribute_not_exists(expiresAt) OR expiresAt > :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": str(userID), ":now": num(s.opt.Now().Unix())},
	}
	var out []service.Connection
	for {
		res, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("connections of %s: %w", userID, err)
		}
		for _, av := range res.Items {
			var c connection
			if err := attributevalue.UnmarshalMap(av, &c); err != nil {
				return nil, fmt.Errorf("decode connection: %w", err)
			}
			conn := service.Connection{ID: c.ConnectionID, UserID: c.UserID, Tier: generation.Tier(c.Tier)}
			if conn.ConnectedAt, err = parseTime(c.ConnectedAt); err != nil {
				return nil, fmt.Errorf("connection %s: %w", c.ConnectionID, err)
			}
			if c.ExpiresAt > 0 {
				conn.ExpiresAt = time.Unix(c.ExpiresAt, 0).UTC()
			}
			out = append(out, conn)
		}
		if len(res.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = res.LastEvaluatedKey
	}
	slices.SortFunc(out, func(a, b service.Connection) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}
