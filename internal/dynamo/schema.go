// Package dynamo holds the DynamoDB adapters: the generation store, the
// connection registry and the global rate limiter.
//
// Two tables:
//
//   - generations, keyed by generationId. Besides the generations it holds
//     small control items whose keys cannot collide with a generation id
//     (ids never contain '#'): idempotency keys ("idem#..."), the per-tier
//     status counters ("count#TIER#shard"), the rate limiter's bucket
//     ("limiter#name") and the request buckets of each caller
//     ("bucket#kind#id", Buckets). One table means one TTL attribute
//     (expiresAt, set only on idempotency, limiter and bucket items), one
//     set of alarms and one
//     thing to back up; the control items never carry the GSI key
//     attributes, so they stay out of every index.
//     GSI byUser (userId, createdKey = createdAt#id), keys only: a user's
//     history newest first. GSI byDeadline (openShard, deadline), keys only
//     and sparse: openShard is set only while a generation has work left
//     (unfinished, or completed with its copies still to make),
//     so the sweeper reads only what is still open. GSI byWait (waitTier,
//     waitUntil), keys only and sparse: only pending generations that wait
//     (a backoff, a rate limit) carry it, so the queue statistics count
//     the delayed ones exactly without reading the rest; a held one's
//     waitTier is "<TIER>#held", so the held are counted apart. GSI byState
//     (tierState, createdKey), keys only: every generation by tier and
//     open or final status, newest first, for operators. Keys-only projections
//     write an index entry only when an index key changes (creation,
//     submission, the end), never for progress; readers fetch the full
//     items with BatchGetItem.
//     Its stream (new and old images) is the outbox of the domain
//     events (package domainevents): the publisher reads every change
//     there, so no writer publishes anything itself.
//   - connections, keyed by connectionId, GSI byUser (userId), TTL
//     expiresAt (epoch seconds).
package dynamo

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Attribute and index names of the tables; template.yaml declares the same.
const (
	AttrGenerationID = "generationId"
	AttrUserID       = "userId"
	AttrCreatedKey   = "createdKey"
	AttrOpenShard    = "openShard"
	AttrDeadline     = "deadline"
	AttrWaitTier     = "waitTier"
	AttrWaitUntil    = "waitUntil"
	AttrTierState    = "tierState"
	AttrConnectionID = "connectionId"
	// AttrExpiresAt is the TTL attribute of both tables, in epoch seconds.
	AttrExpiresAt = "expiresAt"

	IndexByUser     = "byUser"
	IndexByDeadline = "byDeadline"
	IndexByWait     = "byWait"
	IndexByState    = "byState"
)

// GenerationsTable is the definition of the generations table.
func GenerationsTable(name string) *dynamodb.CreateTableInput {
	keysOnly := &types.Projection{ProjectionType: types.ProjectionTypeKeysOnly}
	return &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(AttrGenerationID), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrUserID), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrCreatedKey), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrOpenShard), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrDeadline), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrWaitTier), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrWaitUntil), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrTierState), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{{AttributeName: aws.String(AttrGenerationID), KeyType: types.KeyTypeHash}},
		// The outbox of the domain events: every change, both images.
		StreamSpecification: &types.StreamSpecification{StreamEnabled: aws.Bool(true), StreamViewType: StreamViewType},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{
			{
				IndexName: aws.String(IndexByUser),
				KeySchema: []types.KeySchemaElement{
					{AttributeName: aws.String(AttrUserID), KeyType: types.KeyTypeHash},
					{AttributeName: aws.String(AttrCreatedKey), KeyType: types.KeyTypeRange},
				},
				Projection: keysOnly,
			},
			{
				IndexName: aws.String(IndexByDeadline),
				KeySchema: []types.KeySchemaElement{
					{AttributeName: aws.String(AttrOpenShard), KeyType: types.KeyTypeHash},
					{AttributeName: aws.String(AttrDeadline), KeyType: types.KeyTypeRange},
				},
				Projection: keysOnly,
			},
			{
				IndexName: aws.String(IndexByWait),
				KeySchema: []types.KeySchemaElement{
					{AttributeName: aws.String(AttrWaitTier), KeyType: types.KeyTypeHash},
					{AttributeName: aws.String(AttrWaitUntil), KeyType: types.KeyTypeRange},
				},
				Projection: keysOnly,
			},
			{
				IndexName: aws.String(IndexByState),
				KeySchema: []types.KeySchemaElement{
					{AttributeName: aws.String(AttrTierState), KeyType: types.KeyTypeHash},
					{AttributeName: aws.String(AttrCreatedKey), KeyType: types.KeyTypeRange},
				},
				Projection: keysOnly,
			},
		},
	}
}

// ConnectionsTable is the definition of the connections table.
func ConnectionsTable(name string) *dynamodb.CreateTableInput {
	return &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(AttrConnectionID), AttributeType: types.ScalarAttributeTypeS},
			{AttributeName: aws.String(AttrUserID), AttributeType: types.ScalarAttributeTypeS},
		},
		KeySchema: []types.KeySchemaElement{{AttributeName: aws.String(AttrConnectionID), KeyType: types.KeyTypeHash}},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{{
			IndexName: aws.String(IndexByUser),
			KeySchema: []types.KeySchemaElement{{AttributeName: aws.String(AttrUserID), KeyType: types.KeyTypeHash}},
			// Connection items are a few dozen bytes and written once, so
			// projecting all of them costs nothing extra and saves a read.
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		}},
	}
}
