package service

import (
	"github.com/songqueue/songqueue/internal/throttle"
)

// Ports are a whole backend's adapters, each role taking the ones it uses:
// what the local stack and the tests run every role on at once.
type Ports struct {
	Store       Store
	Connections Connections
	Notifier    Notifier
	Queue       Queue
	Controls    Controls
	DeadLetters DeadLetters
	// Accounts are the Suno accounts; or Account and Suno, one account's
	// rate window and breaker and its client, named DefaultAccount.
	Accounts []SunoAccount
	Account  Account
	Suno     Suno
	// Media and Fetcher keep the songs' copies (Config.Archive).
	Media   Media
	Fetcher Fetcher
	// Callbacks signs the callback URLs the worker gives Suno and checks
	// the ones Suno calls.
	Callbacks CallbackSigner
	// Buckets are the callers' request buckets (package throttle): the
	// WebSocket connections' message limit, and the HTTP API's limits in
	// the program that serves it; nil keeps the message limit in the
	// process.
	Buckets throttle.Store
}

// Roles are every role of the application.
type Roles struct {
	API       *API
	Operators *Operators
	Callbacks *Callbacks
	Realtime  *Realtime
	Worker    *Worker
	Sweeper   *Sweeper
}

// Assemble makes every role on p, each with the ports it uses.
func Assemble(p Ports, cfg Config) (*Roles, error) {
	core := NewCore(p.Store, p.Connections, p.Notifier)
	accounts := p.Accounts
	if len(accounts) == 0 && (p.Account != nil || p.Suno != nil) {
		accounts = []SunoAccount{{Name: DefaultAccount, Account: p.Account, Suno: p.Suno}}
	}
	api, err := NewAPI(APIPorts{Core: core, Queue: p.Queue, DeadLetters: p.DeadLetters, Media: p.Media}, cfg)
	if err != nil {
		return nil, err
	}
	signer := p.Callbacks
	worker, err := NewWorker(WorkerPorts{Core: core, Queue: p.Queue, Accounts: accounts, Controls: p.Controls,
		Media: p.Media, Fetcher: p.Fetcher, Callbacks: signer}, cfg)
	if err != nil {
		return nil, err
	}
	ops, err := NewOperators(OperatorPorts{Core: core, Queue: p.Queue, Controls: p.Controls, DeadLetters: p.DeadLetters, Accounts: BreakersOf(accounts)}, cfg)
	if err != nil {
		return nil, err
	}
	checker := signer
	checker.BaseURL = ""
	callbacks, err := NewCallbacks(CallbackPorts{Core: core, Queue: p.Queue, Accounts: TaskAccountsOf(accounts), Callbacks: checker}, cfg)
	if err != nil {
		return nil, err
	}
	sweeper, err := NewSweeper(SweeperPorts{Core: core, Queue: p.Queue, Controls: p.Controls, Accounts: SweptAccountsOf(accounts)}, cfg)
	if err != nil {
		return nil, err
	}
	var messages MessageLimiter = p.Buckets
	if p.Buckets == nil {
		messages = throttle.NewMemory(cfg.Now)
	}
	realtime, err := NewRealtime(RealtimePorts{Store: p.Store, Connections: p.Connections, Notifier: p.Notifier, Messages: messages}, cfg)
	if err != nil {
		return nil, err
	}
	return &Roles{
		API:       api,
		Operators: ops,
		Callbacks: callbacks,
		Realtime:  realtime,
		Worker:    worker,
		Sweeper:   sweeper,
	}, nil
}

// MustAssemble is Assemble for tests, whose wiring is fixed.
func MustAssemble(p Ports, cfg Config) *Roles {
	r, err := Assemble(p, cfg)
	if err != nil {
		panic(err)
	}
	return r
}

// BreakersOf are the breakers of accounts, for the operators.
func BreakersOf(accounts []SunoAccount) []AccountBreakers {
	out := make([]AccountBreakers, len(accounts))
	for i, a := range accounts {
		out[i] = AccountBreakers{Name: a.Name, Breakers: a.Account}
	}
	return out
}
