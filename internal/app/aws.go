package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"

	"github.com/songqueue/songqueue/internal/apigw"
	"github.com/songqueue/songqueue/internal/awsinfra"
	"github.com/songqueue/songqueue/internal/dynamo"
	"github.com/songqueue/songqueue/internal/eventsource"
	"github.com/songqueue/songqueue/internal/s3media"
	"github.com/songqueue/songqueue/internal/service"
	"github.com/songqueue/songqueue/internal/sqsqueue"
)

// awsBackend makes the AWS adapters a role asks for, on one set of
// clients made at init and reused by every invocation.
type awsBackend struct {
	env     *Env
	clients awsinfra.Clients
	dynamo  func() *dynamo.Store
	// coreOnce is the one core of the process's roles.
	coreOnce *service.Core
}

func (e *Env) newAWS() (*awsBackend, error) {
	cfg, err := e.aws()
	if err != nil {
		return nil, err
	}
	a := &awsBackend{env: e, clients: awsinfra.NewClients(cfg)}
	a.dynamo = sync.OnceValue(func() *dynamo.Store {
		return dynamo.NewStore(a.clients.DynamoDB, e.Config.Names.Generations, e.Config.Names.Connections, dynamo.Options{Now: e.opt.Now})
	})
	return a, nil
}

func (a *awsBackend) store() *dynamo.Store { return a.dynamo() }

// limiter is a Suno account's rate window and breaker: the item
// "limiter#<state>" of the generations table.
func (a *awsBackend) limiter(state string) service.Account {
	return dynamo.NewLimiter(a.clients.DynamoDB, a.env.Config.Names.Generations, state, a.env.Config.RateLimit, a.env.opt.Now)
}

// buckets are the callers' request buckets (package throttle): items
// "bucket#..." of the generations table, shared by every instance.
func (a *awsBackend) buckets() *dynamo.Buckets {
	return dynamo.NewBuckets(a.clients.DynamoDB, a.env.Config.Names.Generations, a.env.opt.Now)
}

// core is the generations and the owners' connections through the
// WebSocket management API; without WEBSOCKET_ENDPOINT (sam local, a stack
// without the WebSocket API) the state is stored and only the push is
// skipped.
func (a *awsBackend) core() service.Core {
	if a.coreOnce == nil {
		var n service.Notifier = discardNotifier{a.env.Log}
		if ep := a.env.Config.WebSocketEndpoint; ep != "" {
			cfg, _ := a.env.aws()
			n = apigw.New(cfg, ep)
		}
		store := a.store()
		c := service.NewCore(store, store, n)
		a.coreOnce = &c
	}
	return *a.coreOnce
}

// queues are the tier queues: the URLs the environment gives, or looked up
// by name (one request per queue, at init).
func (a *awsBackend) queues(ctx context.Context) (*sqsqueue.Queues, error) {
	urls := a.env.Config.QueueURLs
	if urls == nil {
		var err error
		if urls, err = sqsqueue.Resolve(ctx, a.clients.SQS, a.env.Config.Names.Prefix); err != nil {
			return nil, fmt.Errorf("queue URLs (set QUEUE_URL_<TIER> to skip the lookup, or deploy the stack first): %w", err)
		}
	}
	return sqsqueue.New(a.clients.SQS, urls), nil
}

// archives reports whether a role keeps copies. Only the roles that build
// the copies' URLs need MEDIA_BASE_URL: the worker and the local stack.
// The others delete copies (the API) or only hand the copy over to the
// worker (callback, sweeper), so the bucket alone turns copies on there;
// the template then need not give them the distribution's domain, which
// would be a dependency cycle.
func (a *awsBackend) archives(buildsURLs bool) bool {
	m := a.env.Config.Media
	if buildsURLs {
		return m.BaseURL != "" && a.bucket() != ""
	}
	return m.Bucket != "" || m.BaseURL != "" && a.bucket() != ""
}

// bucket is MEDIA_BUCKET, or on an emulator with S3 the stack's default.
func (a *awsBackend) bucket() string {
	if b := a.env.Config.Media.Bucket; b != "" {
		return b
	}
	if a.env.Config.Emulator && awsinfra.Emulated(os.Getenv, "S3") {
		return a.env.Config.Names.Media
	}
	return ""
}

// media is the bucket of copies of a role that keeps them, else nil.
func (a *awsBackend) media(buildsURLs bool) (service.Media, error) {
	if !a.archives(buildsURLs) {
		if a.env.Config.Media.BaseURL != "" {
			a.env.Log.Warn("no MEDIA_BUCKET (nor an emulated S3): songs keep Suno's URLs, which expire after about 15 days")
		}
		return nil, nil
	}
	return a.env.wrapMedia(s3media.New(a.clients.S3, a.bucket(), a.env.Config.Media.BaseURL)), nil
}

// AWSBackend is every AWS adapter, for the local stack on an emulator or
// an account (BACKEND=aws): the tables and queues missing on an emulator
// are created first. Events go to WEBSOCKET_ENDPOINT's @connections. Source is the tier queues as a consumer reads them,
// for the stack's emulated event source; Media is the bucket, or nil.
func AWSBackend(ctx context.Context, e *Env) (service.Ports, func(string) service.Account, eventsource.Source, *s3media.Store, error) {
	a, err := e.newAWS()
	if err != nil {
		return service.Ports{}, nil, nil, nil, err
	}
	if e.Config.Emulator {
		res, err := awsinfra.Ensure(ctx, a.clients, e.Config.Names, e.Config.QueueSettings)
		if err != nil {
			return service.Ports{}, nil, nil, nil, fmt.Errorf("create the tables and queues on the emulator: %w", err)
		}
		if e.Config.QueueURLs == nil {
			e.Config.QueueURLs = res.Queues
		}
	}
	queues, err := a.queues(ctx)
	if err != nil {
		return service.Ports{}, nil, nil, nil, err
	}
	store, core := a.store(), a.core()
	p := service.Ports{Store: store, Connections: store, Controls: store, Queue: queues, DeadLetters: queues, Notifier: core.Notifier, Buckets: a.buckets()}
	var bucket *s3media.Store
	if a.archives(true) {
		bucket = s3media.New(a.clients.S3, a.bucket(), e.Config.Media.BaseURL)
		p.Media = bucket
	}
	return p, a.limiter, queues, bucket, nil
}

// discardNotifier stands in when no WebSocket endpoint is configured (sam
// local, a stack without the WebSocket API): the state is stored and GET
// status serves it; only the push is skipped.
type discardNotifier struct{ log *slog.Logger }

func (d discardNotifier) Post(ctx context.Context, connectionID string, _ []byte) error {
	d.log.DebugContext(ctx, "no WEBSOCKET_ENDPOINT; event not pushed", "connection", connectionID)
	return nil
}

func (d discardNotifier) Close(context.Context, string) error { return nil }
