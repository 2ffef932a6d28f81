package awstest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/songqueue/songqueue/internal/awsinfra"
)

// ErrUnfaithful is the self-test's verdict on an emulator that breaks the
// promises the service's correctness rests on.
var ErrUnfaithful = errors.New("the AWS emulator does not keep DynamoDB's conditional writes atomic under concurrency")

// The verdict of each endpoint, checked once per test binary.
var (
	verdictsMu sync.Mutex
	verdicts   = map[string]error{}
)

// SelfTest checks, once per endpoint, that the emulator keeps the two
// promises of DynamoDB the service relies on: of many conditional updates
// racing from the same version exactly one wins, and a transaction whose
// condition fails changes nothing, not even what other requests wrote
// meanwhile. Stock moto_server breaks both (it is not safe under
// concurrent requests, and restores a whole-table snapshot when a
// transaction fails), so it is refused as soon as it is recognised; the
// project's scripts/moto.sh runs moto with DynamoDB serialised, which keeps
// them. Any other emulator (LocalStack, DynamoDB Local) is raced.
func SelfTest(endpoint string) error {
	verdictsMu.Lock()
	defer verdictsMu.Unlock()
	if err, ok := verdicts[endpoint]; ok {
		return err
	}
	err := selfTest(context.Background(), endpoint)
	verdicts[endpoint] = err
	return err
}

func selfTest(ctx context.Context, endpoint string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	// moto is told apart first, for certain: the races below catch stock
	// moto only some of the time.
	switch moto, serialised := identify(ctx, endpoint); {
	case moto && serialised:
		return nil // scripts/moto_server.py: one DynamoDB request at a time
	case moto:
		return fmt.Errorf("%w: %s is a stock moto_server, which runs DynamoDB requests concurrently without isolation "+
			"(concurrent conditional writes can both succeed, and a failed transaction restores a whole-table snapshot, undoing "+
			"other requests' acknowledged writes); start moto with scripts/moto.sh, which serialises DynamoDB", ErrUnfaithful, endpoint)
	}
	return race(ctx, endpoint)
}

// race runs the two promises against endpoint under concurrent requests.
func race(ctx context.Context, endpoint string) error {
	cfg, err := awsinfra.EmulatorConfig(ctx, endpoint)
	if err != nil {
		return err
	}
	db := dynamodb.NewFromConfig(cfg)
	table := "songqueue-selftest-" + randomSuffix()
	if _, err := db.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("k"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("k"), KeyType: types.KeyTypeHash}},
	}); err != nil {
		return fmt.Errorf("emulator self-test: create table: %w", err)
	}
	defer func() {
		_, _ = db.DeleteTable(context.WithoutCancel(ctx), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	}()
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	key := func(k string) map[string]types.AttributeValue { return map[string]types.AttributeValue{"k": s(k)} }
	if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: map[string]types.AttributeValue{"k": s("x"), "v": s("0")}}); err != nil {
		return fmt.Errorf("emulator self-test: put: %w", err)
	}

	// Many conditional updates from the same read: exactly one may win.
	const rounds, racers = 4, 24
	for round := range rounds {
		read := fmt.Sprint(round)
		var won atomic.Int32
		var wg sync.WaitGroup
		for i := range racers {
			wg.Go(func() {
				_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
					TableName: aws.String(table), Key: key("x"),
					UpdateExpression:          aws.String("SET v = :next, w = :who"),
					ConditionExpression:       aws.String("v = :read"),
					ExpressionAttributeValues: map[string]types.AttributeValue{":read": s(read), ":next": s(fmt.Sprint(round + 1)), ":who": s(fmt.Sprint(i))},
				})
				if err == nil {
					won.Add(1)
				}
			})
		}
		wg.Wait()
		if n := won.Load(); n != 1 {
			return fmt.Errorf("%w: %d of %d conditional updates from the same version succeeded at %s, where exactly one must; "+
				"use scripts/moto.sh (moto with DynamoDB serialised) or real DynamoDB", ErrUnfaithful, n, racers, endpoint)
		}
	}

	// Acknowledged writes beside transactions that fail their condition, in
	// a table of some size: moto copies the whole table when a transaction
	// starts and puts the copy back when it fails.
	const filler = 1000
	fill := make(chan int)
	var fillErr atomic.Value
	var fillers sync.WaitGroup
	for range 4 {
		fillers.Go(func() {
			for i := range fill {
				var reqs []types.WriteRequest
				for j := i; j < min(i+25, filler); j++ {
					reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: map[string]types.AttributeValue{"k": s(fmt.Sprint("f", j)), "pad": s(fmt.Sprintf("%0200d", j))}}})
				}
				if _, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{table: reqs}}); err != nil {
					fillErr.Store(err)
				}
			}
		})
	}
	for i := 0; i < filler; i += 25 {
		fill <- i
	}
	close(fill)
	fillers.Wait()
	if err, _ := fillErr.Load().(error); err != nil {
		return fmt.Errorf("emulator self-test: fill: %w", err)
	}
	const workers, width = 4, 1
	const transactors = 2 * workers
	var wg sync.WaitGroup
	var acked []string
	var ackedMu sync.Mutex
	stop := time.Now().Add(time.Second)
	for i := range transactors {
		wg.Go(func() {
			for time.Now().Before(stop) {
				items := make([]types.TransactWriteItem, 0, width)
				for j := range width - 1 {
					items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(table), Item: key(fmt.Sprint("t", i, "-", j))}})
				}
				items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(table), Item: key("x"), ConditionExpression: aws.String("attribute_not_exists(k)")}})
				_, _ = db.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
			}
		})
	}
	for i := range workers {
		wg.Go(func() {
			for n := 0; time.Now().Before(stop); n++ {
				k := fmt.Sprint("w", i, "-", n)
				if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: key(k)}); err == nil {
					ackedMu.Lock()
					acked = append(acked, k)
					ackedMu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	lost := 0
	for _, k := range acked {
		out, err := db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key(k), ConsistentRead: aws.Bool(true)})
		if err != nil {
			return fmt.Errorf("emulator self-test: get: %w", err)
		}
		if out.Item == nil {
			lost++
		}
	}
	if lost > 0 {
		return fmt.Errorf("%w: %d of %d acknowledged writes at %s vanished when transactions beside them failed "+
			"(moto restores a table snapshot on a failed transaction); use scripts/moto.sh (moto with DynamoDB serialised) or real DynamoDB",
			ErrUnfaithful, lost, len(acked), endpoint)
	}
	return nil
}

// identify says whether endpoint is moto, and whether it is the project's
// moto with DynamoDB serialised.
func identify(ctx context.Context, endpoint string) (moto, serialised bool) {
	get := func(path string) bool {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(endpoint, "/")+path, nil)
		if err != nil {
			return false
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		res.Body.Close()
		return res.StatusCode == http.StatusOK
	}
	return get("/moto-api/"), get("/_songqueue/dynamodb-serialised")
}
