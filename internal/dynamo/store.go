package dynamo

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// Options tune the store. Zero values take the defaults.
type Options struct {
	// CounterShards spreads each tier's status counters over this many
	// items, so that concurrent transactions seldom touch the same one;
	// default 4. Changing it later loses nothing: Counts reads every shard
	// up to the configured number, so only ever raise it.
	CounterShards int
	// IdempotencyTTL is how long an Idempotency-Key is remembered; default
	// 24 hours.
	IdempotencyTTL time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.CounterShards <= 0 {
		o.CounterShards = 4
	}
	if o.IdempotencyTTL <= 0 {
		o.IdempotencyTTL = 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Store is the generation store and connection registry on DynamoDB.
type Store struct {
	db          *dynamodb.Client
	generations string
	connections string
	opt         Options
}

var (
	_ service.Store       = (*Store)(nil)
	_ service.Connections = (*Store)(nil)
)

// NewStore returns a store on the two tables.
func NewStore(db *dynamodb.Client, generationsTable, connectionsTable string, opt Options) *Store {
	return &Store{db: db, generations: generationsTable, connections: connectionsTable, opt: opt.withDefaults()}
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func num[T int | int64](n T) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(int64(n), 10)}
}

func keyOf(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrGenerationID: str(id)}
}

// idempotencyKey is the key of an idempotency item. The user id is encoded
// so that no user id and key pair can spell another's.
func idempotencyKey(userID, key string) string {
	return "idem#" + base64.RawURLEncoding.EncodeToString([]byte(userID)) + "#" + key
}

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

// Create implements service.Store with one transaction: the generation
// (which must be new), the idempotency item (which must be new or expired)
// and the pending counter.
func (s *Store) Create(ctx context.Context, g generation.Generation, key string) (generation.Generation, bool, error) {
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
	for i := 0; ; i++ {
		_, err = s.db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			return g, true, nil
		}
		reasons := cancellation(err)
		if key != "" && reasonCode(reasons, idem) == "ConditionalCheckFailed" {
			var old struct {
				Target string `dynamodbav:"target"`
			}
			if err := attributevalue.UnmarshalMap(reasons[idem].Item, &old); err != nil || old.Target == "" {
				return generation.Generation{}, false, fmt.Errorf("idempotency item for key %q is unreadable: %v", key, err)
			}
			first, err := s.Get(ctx, old.Target)
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

// Counts implements service.Store: one BatchGetItem of every counter shard.
func (s *Store) Counts(ctx context.Context) (map[generation.Tier]service.StatusCounts, error) {
	var ids []string
	for _, t := range generation.Tiers {
		for i := range s.opt.CounterShards {
			ids = append(ids, counterKey(t, i))
		}
	}
	out := map[generation.Tier]service.StatusCounts{}
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
			c = service.StatusCounts{}
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
			c[generation.Status(name)] += x
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read counters: %w", err)
	}
	return out, nil
}

// Overdue implements service.Store from the sparse byDeadline index, which
// holds only generations that are not terminal.
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
		if !g.Status.Terminal() && g.Deadline.Before(now) {
			out = append(out, g)
		}
	}
	slices.SortFunc(out, func(a, b generation.Generation) int {
		return cmp.Or(a.Deadline.Compare(b.Deadline), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// FindByTask returns the generation whose current attempt is Suno task
// taskID, or service.ErrNotFound: a query of the sparse byTask index and a
// consistent read of what it names (the index lags the table a little).
func (s *Store) FindByTask(ctx context.Context, taskID string) (generation.Generation, error) {
	if taskID == "" {
		return generation.Generation{}, service.ErrNotFound
	}
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.generations),
		IndexName:                 aws.String(IndexByTask),
		KeyConditionExpression:    aws.String("taskId = :t"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":t": str(taskID)},
	})
	if err != nil {
		return generation.Generation{}, fmt.Errorf("find task %s: %w", taskID, err)
	}
	for _, it := range out.Items {
		var id string
		if err := attributevalue.Unmarshal(it[AttrGenerationID], &id); err != nil {
			return generation.Generation{}, fmt.Errorf("decode index entry: %w", err)
		}
		g, err := s.Get(ctx, id)
		if err == nil && g.TaskID == taskID {
			return g, nil
		}
		if err != nil && !errors.Is(err, service.ErrNotFound) {
			return generation.Generation{}, err
		}
	}
	return generation.Generation{}, service.ErrNotFound
}

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
