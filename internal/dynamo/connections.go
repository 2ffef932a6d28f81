package dynamo

import (
	"cmp"
	"context"
	"encoding/base64"
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

// A user's connection slots, beside the connections when a cap is set:
//
//	connectionId  slots#<user id, base64url>
//	conns         map of the user's connection ids to their expiries (epoch
//	              seconds, 0 for none), written with each connect
//	ver           bumped by every connect, which writes only if it is still
//	              the version it read: the cap holds under concurrency
//	expiresAt     the latest expiry (TTL), absent while one has none
//
// It has no userId, so byUser never sees it. A disconnect deletes only the
// connection; the next connect drops the ids whose connection is gone.
func slotsKey(userID string) string {
	return "slots#" + base64.RawURLEncoding.EncodeToString([]byte(userID))
}

// slotRaces bounds how often a connect reads again the slots that another
// connect of the same user changed under it.
const slotRaces = 32

// PutConnection implements service.Connections. With a cap, the
// connection and the user's slots item are written in one transaction,
// on condition that the slots are still as read: a burst of connects
// cannot slip past the cap.
func (s *Store) PutConnection(ctx context.Context, c service.Connection, limit int) error {
	av, err := attributevalue.MarshalMap(connection{
		ConnectionID: c.ID, UserID: c.UserID, Tier: string(c.Tier),
		ConnectedAt: formatTime(c.ConnectedAt), ExpiresAt: expirySeconds(c.ExpiresAt),
	})
	if err != nil {
		return fmt.Errorf("encode connection %s: %w", c.ID, err)
	}
	if limit <= 0 {
		if _, err := s.db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.connections), Item: av}); err != nil {
			return fmt.Errorf("put connection %s: %w", c.ID, err)
		}
		return nil
	}
	for i := 0; ; i++ {
		slots, ver, err := s.liveSlots(ctx, c.UserID)
		if err != nil {
			return err
		}
		delete(slots, c.ID) // the same connection again takes no other slot
		if len(slots) >= limit {
			return service.ErrTooManyConnections
		}
		slots[c.ID] = expirySeconds(c.ExpiresAt)
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
			{Put: &types.Put{TableName: aws.String(s.connections), Item: av}},
			{Put: s.slotsPut(c.UserID, slots, ver)},
		}})
		if err == nil {
			return nil
		}
		lost := reasonCode(cancellation(err), 1) == "ConditionalCheckFailed" || conflicted(err)
		if !lost || i >= slotRaces-1 {
			return fmt.Errorf("put connection %s: %w", c.ID, err)
		}
		if err := pause(ctx, min(i, 3)); err != nil {
			return err
		}
	}
}

// liveSlots reads a user's slots item and returns its connections that
// are still registered and not expired, and the version read (0: none).
func (s *Store) liveSlots(ctx context.Context, userID string) (map[string]int64, int64, error) {
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.connections), Key: map[string]types.AttributeValue{AttrConnectionID: str(slotsKey(userID))},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, 0, fmt.Errorf("read the connection slots of %s: %w", userID, err)
	}
	var item struct {
		Conns map[string]int64 `dynamodbav:"conns"`
		Ver   int64            `dynamodbav:"ver"`
	}
	if err := attributevalue.UnmarshalMap(out.Item, &item); err != nil {
		return nil, 0, fmt.Errorf("decode the connection slots of %s: %w", userID, err)
	}
	now := s.opt.Now().Unix()
	live := map[string]int64{}
	var ids []string
	for id, exp := range item.Conns {
		if exp == 0 || exp > now {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return live, item.Ver, nil
	}
	// The connections still registered: a disconnect deletes only its own.
	keys := make([]map[string]types.AttributeValue, len(ids))
	for i, id := range ids {
		keys[i] = map[string]types.AttributeValue{AttrConnectionID: str(id)}
	}
	req := map[string]types.KeysAndAttributes{s.connections: {
		Keys: keys, ConsistentRead: aws.Bool(true), ProjectionExpression: aws.String("connectionId"),
	}}
	for i := 0; len(req) > 0; i++ {
		if i > 0 {
			if err := pause(ctx, min(i, 6)); err != nil {
				return nil, 0, err
			}
		}
		res, err := s.db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return nil, 0, fmt.Errorf("read the connections of %s: %w", userID, err)
		}
		for _, av := range res.Responses[s.connections] {
			if id, ok := av[AttrConnectionID].(*types.AttributeValueMemberS); ok {
				live[id.Value] = item.Conns[id.Value]
			}
		}
		req = res.UnprocessedKeys
	}
	return live, item.Ver, nil
}

// slotsPut writes a user's slots, on condition that they are still at ver.
func (s *Store) slotsPut(userID string, slots map[string]int64, ver int64) *types.Put {
	conns := make(map[string]types.AttributeValue, len(slots))
	var latest int64
	forever := false
	for id, exp := range slots {
		conns[id] = num(exp)
		if exp == 0 {
			forever = true
		}
		latest = max(latest, exp)
	}
	item := map[string]types.AttributeValue{
		AttrConnectionID: str(slotsKey(userID)),
		"conns":          &types.AttributeValueMemberM{Value: conns},
		"ver":            num(ver + 1),
	}
	if !forever {
		item[AttrExpiresAt] = num(latest)
	}
	put := &types.Put{TableName: aws.String(s.connections), Item: item, ConditionExpression: aws.String("attribute_not_exists(ver)")}
	if ver > 0 {
		put.ConditionExpression = aws.String("ver = :ver")
		put.ExpressionAttributeValues = map[string]types.AttributeValue{":ver": num(ver)}
	}
	return put
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
		TableName:            aws.String(s.connections),
		ProjectionExpression: aws.String("userId"),
		// Users' slots items have no userId.
		FilterExpression:          aws.String("attribute_exists(userId) AND (attribute_not_exists(expiresAt) OR expiresAt > :now)"),
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
