package service

import (
	"context"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
)

// CallbackPorts are what Suno's callbacks run on.
type CallbackPorts struct {
	Core
	Queue Queue
	// Accounts are the Suno accounts; a callback is confirmed with the
	// client of the account that submitted the task.
	Accounts []TaskAccount
	// Callbacks checks the signed URL Suno calls.
	Callbacks CallbackSigner
}

// Callbacks applies Suno's callbacks. A callback is a hint, not the truth:
// anyone who learns a callback URL could send one, so what is stored comes
// from Suno's record-info for the task, which the callback only prompts.
// The URL is good for one attempt and until shortly after that attempt
// must have ended (CallbackSigner), so a leaked URL costs at most one
// look-up per replay while its attempt runs, and nothing after.
type Callbacks struct {
	*flow
	accounts accounts[TaskAccount]
	signer   CallbackSigner
}

// NewCallbacks returns the callback handler on p.
func NewCallbacks(p CallbackPorts, cfg Config) (*Callbacks, error) {
	accounts, err := newAccounts(p.Accounts)
	if err != nil {
		return nil, err
	}
	return &Callbacks{flow: newFlow(p.Core, p.Queue, cfg), accounts: accounts, signer: p.Callbacks}, nil
}

// CallbackAuth is what a callback URL carries to prove it came from Suno:
// its g and sig parameters.
type CallbackAuth struct {
	GenerationID string
	Signature    string
}

// errUnknownCallback answers a callback URL that names no generation this
// service could have issued it for.
var errUnknownCallback = &Error{Kind: KindNotFound, Code: "unknown_callback", Message: "the callback URL is not one this service issued"}

// Handle acts on a Suno callback. It is refused before anything is read
// unless its URL is one this service signed, for this generation, and has
// not expired (403 invalid_callback_signature or callback_expired). A
// callback for an attempt that is over, or a stage already reached,
// changes nothing and asks Suno nothing. When Suno cannot be asked, the
// attempt's own poll job asks later: a callback never starts another.
func (c *Callbacks) Handle(ctx context.Context, auth CallbackAuth, report generation.TaskReport) error {
	if !validID(auth.GenerationID) {
		return errUnknownCallback
	}
	attempt, err := c.signer.verify(ctx, auth.GenerationID, auth.Signature, c.now())
	if err != nil {
		return err // refused (403), or the key cannot be read (500: Suno tries again)
	}
	if report.Stage == generation.TaskRunning {
		return nil // lyrics are ready: nothing the user sees, nothing to read
	}
	g, found, err := c.load(ctx, auth.GenerationID)
	if err != nil {
		return err
	}
	if !found {
		// Its owner deleted it while Suno was making it: nothing to do,
		// and nothing for Suno to send again.
		c.log.InfoContext(ctx, "callback for a deleted generation", "generation", auth.GenerationID, "task", report.TaskID)
		return nil
	}
	if g.Status != generation.Processing || g.Attempts != attempt || g.TaskID != report.TaskID {
		// Early (task id not stored yet), late, or for an attempt that is
		// over: the poll job covers the first case, the others need
		// nothing.
		return nil
	}
	if report.Stage == generation.TaskFirstReady && g.Progress >= generation.ProgressFirst {
		return nil // a repeated "first": the complete callback or the poll tells the rest
	}
	lookCtx, cancel := context.WithTimeout(ctx, callbackLookup)
	task, err := c.accounts.of(g.Account).Tasks.Task(lookCtx, report.TaskID)
	cancel()
	if err != nil {
		// The attempt's poll job, sent when it was submitted, asks again
		// within a few poll intervals: a callback, genuine or replayed,
		// adds no job.
		c.log.WarnContext(ctx, "callback not confirmed; the attempt's poll job will ask again", "generation", g.ID, "task", report.TaskID, "err", err)
		return nil
	}
	_, err = c.applyTask(ctx, g, task, g.CreatedAt)
	return err
}

// Signature is the sig parameter of a callback URL for attempt of
// generation id, issued now, as the worker issues them (for tests and
// tools that call the callback route themselves).
func (c *Callbacks) Signature(ctx context.Context, id string, attempt int) (string, error) {
	return c.signer.Signature(ctx, id, attempt, callbackExpiry(c.cfg, c.now()))
}

// callbackLookup bounds the record-info a callback makes, well inside the
// 15 s Suno waits for the callback's answer.
const callbackLookup = 5 * time.Second
