package service

// Ports are a whole backend's adapters, each role taking the ones it uses:
// what the local stack and the tests run every role on at once.
type Ports struct {
	Store       Store
	Connections Connections
	Notifier    Notifier
	Queue       Queue
	Controls    Controls
	DeadLetters DeadLetters
	Limiter     RateLimiter
	Suno        Suno
	// Media and Fetcher keep the songs' copies (Config.Archive).
	Media   Media
	Fetcher Fetcher
	// Callbacks signs the callback URLs the worker gives Suno and checks
	// the ones Suno calls.
	Callbacks CallbackSigner
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
	core := Core{Store: p.Store, Connections: p.Connections, Notifier: p.Notifier}
	api, err := NewAPI(APIPorts{Core: core, Queue: p.Queue, DeadLetters: p.DeadLetters, Media: p.Media}, cfg)
	if err != nil {
		return nil, err
	}
	signer := p.Callbacks
	worker, err := NewWorker(WorkerPorts{Core: core, Queue: p.Queue, Limiter: p.Limiter, Suno: p.Suno, Controls: p.Controls,
		Media: p.Media, Fetcher: p.Fetcher, Callbacks: signer}, cfg)
	if err != nil {
		return nil, err
	}
	checker := signer
	checker.BaseURL = ""
	return &Roles{
		API:       api,
		Operators: NewOperators(OperatorPorts{Core: core, Queue: p.Queue, Controls: p.Controls, DeadLetters: p.DeadLetters}, cfg),
		Callbacks: NewCallbacks(CallbackPorts{Core: core, Queue: p.Queue, Suno: p.Suno, Callbacks: checker}, cfg),
		Realtime:  NewRealtime(RealtimePorts{Store: p.Store, Connections: p.Connections}, cfg),
		Worker:    worker,
		Sweeper:   NewSweeper(SweeperPorts{Core: core, Queue: p.Queue, Suno: p.Suno, Controls: p.Controls}, cfg),
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
