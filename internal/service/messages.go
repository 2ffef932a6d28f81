package service

import (
	"context"

	"github.com/songqueue/songqueue/internal/throttle"
)

// MessageLimiter keeps the WebSocket connections' message buckets
// (package throttle, bucket "ws#<connection id>"): dynamo.Buckets in AWS,
// so that a connection's limit holds whichever instance of the function
// serves its messages, and however many do; throttle.Memory in one
// process.
type MessageLimiter interface {
	Take(ctx context.Context, key string, l throttle.Limit) (throttle.Decision, error)
}

// messageLimit is a connection's: MessageRate a second, MessageBurst at
// once.
func (s *Realtime) messageLimit() throttle.Limit {
	return throttle.Limit{Rate: s.cfg.MessageRate, Burst: max(s.cfg.MessageBurst, 1)}
}

// allowMessage takes a token of the connection's bucket. A limiter that
// fails lets the message through (it is logged): the answer to a ping or
// a sync matters more than the limit's bookkeeping.
func (s *Realtime) allowMessage(ctx context.Context, connectionID string) bool {
	d, err := s.messages.Take(ctx, "ws#"+connectionID, s.messageLimit())
	if err != nil {
		s.cfg.Logger.WarnContext(ctx, "message limit unavailable; message let through", "connection", connectionID, "err", err)
		return true
	}
	return d.OK
}
