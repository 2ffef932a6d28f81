package app

import (
	"context"
	"fmt"

	"github.com/songqueue/songqueue/internal/media"
	"github.com/songqueue/songqueue/internal/service"
	"github.com/songqueue/songqueue/internal/sqsqueue"
	"github.com/songqueue/songqueue/internal/suno"
	"github.com/songqueue/songqueue/internal/throttle"
)

// The roles of template.yaml's functions, each on the AWS adapters it
// uses and no other: what a function's main calls says what it gets.

// APIRoles are the HTTP API function's: the song makers' routes and the
// operators'.
type APIRoles struct {
	Songs     *service.API
	Operators *service.Operators
	// Buckets are the callers' request buckets (Config.Requests); nil
	// limits nothing.
	Buckets throttle.Store
}

// API assembles the HTTP API function: DynamoDB (generations, the Suno
// breaker operators see), the queues (it sends the
// first job and redrives dead letters), the WebSocket management API, and
// the bucket of copies (a deleted song's are deleted).
func API(ctx context.Context, e *Env) (*APIRoles, error) {
	a, err := e.newAWS()
	if err != nil {
		return nil, err
	}
	queues, err := a.queues(ctx)
	if err != nil {
		return nil, err
	}
	store, core := a.store(), a.core()
	m, err := a.media(false)
	if err != nil {
		return nil, err
	}
	// The operators see the accounts' breakers; the API function reads
	// no Suno key (but for the list of SUNO_API_KEYS_SECRET_ARN, which
	// says how many accounts there are).
	accounts, err := e.accountBreakers(ctx, a.limiter)
	if err != nil {
		return nil, err
	}
	roles, err := apiRoles(e, core, e.wrapQueue(queues), queues, store, accounts, m)
	if err != nil {
		return nil, err
	}
	roles.Buckets = a.buckets()
	return roles, nil
}

// Buckets are the callers' request buckets every instance of every
// function shares, for a role that limits its callers without other use
// of AWS: Suno's callback function (CALLBACK_RATE_PER_IP).
func Buckets(e *Env) (throttle.Store, error) {
	a, err := e.newAWS()
	if err != nil {
		return nil, err
	}
	return a.buckets(), nil
}

// Callback assembles Suno's callback function: DynamoDB, the queues (a
// poll or archive job), Suno (to confirm what a callback says) and the
// callback key, read from init on.
func Callback(ctx context.Context, e *Env) (*service.Callbacks, error) {
	a, queues, accounts, err := e.sunoRole(ctx)
	if err != nil {
		return nil, err
	}
	signer, err := e.signer(false, true)
	if err != nil {
		return nil, err
	}
	return service.NewCallbacks(service.CallbackPorts{Core: a.core(), Queue: e.wrapQueue(queues), Accounts: service.TaskAccountsOf(accounts), Callbacks: signer}, e.pipeline(a.archives(false)))
}

// WebSocket assembles the WebSocket function: the generations (for sync),
// the connections, the connections' message buckets, and the management
// API (to close a connection whose token has expired), nothing else.
func WebSocket(ctx context.Context, e *Env) (*service.Realtime, error) {
	a, err := e.newAWS()
	if err != nil {
		return nil, err
	}
	// sync's places in line are estimated at the accounts' combined rate:
	// a JSON list of accounts (SUNO_API_KEYS_SECRET_ARN) is read to count
	// them; no Suno key is read otherwise.
	if _, err := e.sunoAccountRefs(ctx); err != nil {
		return nil, err
	}
	store := a.store()
	// The management API tells a connection whose token has expired so,
	// and closes it.
	notifier := a.core().Notifier
	return service.NewRealtime(service.RealtimePorts{Store: store, Connections: store, Notifier: notifier, Messages: a.buckets()}, e.Pipeline())
}

// Worker assembles the worker function: DynamoDB (generations, the rate
// limiter, the pause switches), the queues, Suno, the WebSocket
// management API, and the bucket it copies the songs' files to.
func Worker(ctx context.Context, e *Env) (*service.Worker, error) {
	a, queues, accounts, err := e.sunoRole(ctx)
	if err != nil {
		return nil, err
	}
	m, err := a.media(true)
	if err != nil {
		return nil, err
	}
	return worker(e, a.core(), e.wrapQueue(queues), accounts, a.store(), m)
}

// Sweeper assembles the scheduled sweeper: DynamoDB, the queues, and Suno
// (to ask about tasks past their deadline).
func Sweeper(ctx context.Context, e *Env) (*service.Sweeper, error) {
	a, queues, accounts, err := e.sunoRole(ctx)
	if err != nil {
		return nil, err
	}
	return service.NewSweeper(service.SweeperPorts{Core: a.core(), Queue: e.wrapQueue(queues), Controls: a.store(), Accounts: service.SweptAccountsOf(accounts)}, e.pipeline(a.archives(false)))
}

// sunoRole is what the roles that talk to Suno (callback, worker,
// sweeper) start from: the AWS clients, the queues, the Suno accounts.
func (e *Env) sunoRole(ctx context.Context) (*awsBackend, *sqsqueue.Queues, []service.SunoAccount, error) {
	a, err := e.newAWS()
	if err != nil {
		return nil, nil, nil, err
	}
	queues, err := a.queues(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	accounts, err := e.accounts(ctx, a.limiter)
	if err != nil {
		return nil, nil, nil, err
	}
	return a, queues, accounts, nil
}

// Local assembles every role on p, as the local stack runs them in one
// process: the Suno accounts (their clients, and their rate windows and
// breakers from limiter), the Fetcher and the callback signer are the
// environment's.
func Local(e *Env, p service.Ports, limiter func(state string) service.Account) (*service.Roles, error) {
	accounts, err := e.accounts(context.Background(), limiter)
	if err != nil {
		return nil, err
	}
	signer, err := e.signer(true, false)
	if err != nil {
		return nil, err
	}
	if signer.Key == nil {
		// No callbacks: the key still checks the URLs Suno calls.
		if signer.Key, err = e.callbackKey(false); err != nil {
			return nil, err
		}
	}
	p.Accounts, p.Callbacks = accounts, signer
	p.Queue = e.wrapQueue(p.Queue)
	p.Media = e.wrapMedia(p.Media)
	if p.Media != nil {
		p.Fetcher = e.fetcher()
	}
	return service.Assemble(p, e.pipeline(p.Media != nil))
}

func apiRoles(e *Env, core service.Core, queue service.Queue, dead service.DeadLetters, controls service.Controls, accounts []service.AccountBreakers, m service.Media) (*APIRoles, error) {
	pipeline := e.pipeline(m != nil)
	songs, err := service.NewAPI(service.APIPorts{Core: core, Queue: queue, DeadLetters: dead, Media: m}, pipeline)
	if err != nil {
		return nil, err
	}
	ops, err := service.NewOperators(service.OperatorPorts{Core: core, Queue: queue, Controls: controls, DeadLetters: dead, Accounts: accounts}, pipeline)
	if err != nil {
		return nil, err
	}
	return &APIRoles{Songs: songs, Operators: ops}, nil
}

func worker(e *Env, core service.Core, queue service.Queue, accounts []service.SunoAccount, controls service.PauseReader, m service.Media) (*service.Worker, error) {
	signer, err := e.signer(true, false)
	if err != nil {
		return nil, err
	}
	ports := service.WorkerPorts{Core: core, Queue: queue, Accounts: accounts, Controls: controls, Callbacks: signer}
	if m != nil {
		ports.Media = m
		ports.Fetcher = e.fetcher()
	}
	return service.NewWorker(ports, e.pipeline(m != nil))
}

// fetcher downloads the songs' files from Suno's media hosts: over https,
// from public addresses only, unless the hosts name this machine (the
// local stack's fake Suno, a test's server), whose files come over http
// from loopback addresses.
func (e *Env) fetcher() service.Fetcher {
	return media.Fetcher{MaxBytes: e.Config.Media.MaxBytes, AllowLoopback: media.AnyLoopback(e.Config.Pipeline.MediaHosts)}
}

// pipeline is the service's configuration, keeping copies or not.
func (e *Env) pipeline(archive bool) service.Config {
	p := e.Pipeline()
	p.Archive = archive
	return p
}

// accountBreakers are the Suno accounts' breakers, by name, without
// their clients.
func (e *Env) accountBreakers(ctx context.Context, limiter func(state string) service.Account) ([]service.AccountBreakers, error) {
	refs, err := e.sunoAccountRefs(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]service.AccountBreakers, len(refs))
	for i := range refs {
		name, state := accountNames(i, len(refs))
		out[i] = service.AccountBreakers{Name: name, Breakers: limiter(state)}
	}
	return out, nil
}

// accountNames are account i's name (of n) and its state's name.
func accountNames(i, n int) (name, state string) {
	name, state = service.DefaultAccount, "suno"
	if n > 1 {
		name = fmt.Sprintf("account-%d", i+1)
		if i > 0 {
			state = fmt.Sprintf("suno-%d", i+1)
		}
	}
	return name, state
}

// accounts are the Suno accounts of the configuration, each with its
// client and, from limiter, its rate window and breaker (limiter is given
// the account's state name: "suno" for the first account, as with one
// key, then "suno-2", "suno-3", ...).
func (e *Env) accounts(ctx context.Context, limiter func(state string) service.Account) ([]service.SunoAccount, error) {
	base := e.Config.SunoBaseURL
	refs, err := e.sunoAccountRefs(ctx)
	if err != nil {
		return nil, err
	}
	if base == "" {
		base = suno.DefaultBaseURL
		if !refs[0].Set() {
			e.Log.Warn("no Suno API key configured; sunoapi.org will refuse the calls", "set", "SUNO_API_KEY_SECRET_ARN, SUNO_API_KEY_PARAMETER or SUNO_API_KEY (one account); SUNO_API_KEY_SECRET_ARNS, SUNO_API_KEYS_SECRET_ARN or SUNO_API_KEYS (several)")
		}
	}
	out := make([]service.SunoAccount, len(refs))
	for i, ref := range refs {
		key, err := e.sunoKey(i, ref)
		if err != nil {
			return nil, err
		}
		var client service.Suno = suno.NewClientWithKey(base, key, nil)
		if e.opt.WrapSuno != nil {
			client = e.opt.WrapSuno(client)
		}
		name, state := accountNames(i, len(refs))
		out[i] = service.SunoAccount{Name: name, Account: limiter(state), Suno: client}
	}
	return out, nil
}
