package dynamo

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// isConditionFailed reports a failed condition of a single-item write.
func isConditionFailed(err error) (*types.ConditionalCheckFailedException, bool) {
	var cf *types.ConditionalCheckFailedException
	ok := errors.As(err, &cf)
	return cf, ok
}

// cancellation reads a cancelled transaction: the reason of each item, in
// the order of the request, or nil when err is not a cancellation.
func cancellation(err error) []types.CancellationReason {
	var tc *types.TransactionCanceledException
	if errors.As(err, &tc) {
		return tc.CancellationReasons
	}
	return nil
}

func reasonCode(r []types.CancellationReason, i int) string {
	if i >= len(r) || r[i].Code == nil {
		return ""
	}
	return *r[i].Code
}

// conflicted reports whether a transaction lost to another transaction on
// one of its items (code TransactionConflict), which is worth retrying, as
// opposed to a failed condition, which is an answer.
func conflicted(err error) bool {
	var tce *types.TransactionConflictException
	if errors.As(err, &tce) {
		return true
	}
	for _, r := range cancellation(err) {
		if r.Code != nil && *r.Code == "TransactionConflict" {
			return true
		}
	}
	return false
}

// transactAttempts bounds the retries of a transaction that lost to another
// one on a shared counter item.
const transactAttempts = 6

// pause waits a little before retrying attempt i of a transaction, with
// jitter so that the two losers of a conflict do not collide again.
func pause(ctx context.Context, i int) error {
	d := time.Duration(5<<i)*time.Millisecond + rand.N(10*time.Millisecond)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
