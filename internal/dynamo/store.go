package dynamo

import (
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

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
	_ service.Controls    = (*Store)(nil)
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
