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
	Accounts []SunoAccount
	// Callbacks checks the signed URL Suno calls.
	Callbacks CallbackSigner
}

// Callbacks applies Suno's callbacks. A callback is a hint, not the truth:
// anyone who learns a callback URL could send one, so what is stored comes
// from Suno's record-info for the task, which the callback only prompts; a
// forged callback costs at most that one look-up.
type Callbacks struct {
	*flow
	accounts accounts
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

// CallbackAuth is what a callback URL carries to prove it came from Suno.
type CallbackAuth struct {
	GenerationID string
	Signature    string
}

// errUnknownCallback answers a callback URL this service did not issue.
var errUnknownCallback = &Error{Kind: KindNotFound, Code: "unknown_callback", Message: "the callback URL is not one this service issued"}

// Handle acts on a Suno callback. When Suno cannot be asked at once, a
// poll job asks soon, and Suno gets its answer in time whatever happens.
// It is idempotent: a callback for a stage already reached changes
// nothing.
func (c *Callbacks) Handle(ctx context.Context, auth CallbackAuth, report generation.TaskReport) error {
	if !validID(auth.GenerationID) {
		return errUnknownCallback
	}
	ok, err := c.signer.verify(ctx, auth.GenerationID, auth.Signature)
	if err != nil {
		return err // a 500: Suno tries the callback again
	}
	if !ok {
		return errUnknownCallback
	}
	if report.Stage == generation.TaskRunning {
		return nil // lyrics are ready: nothing the user sees, nothing to read
	}
	g, found, err := c.load(ctx, auth.GenerationID)
	if err != nil {
		return err
	}
	if !found {
		return &Error{Kind: KindNotFound, Code: "unknown_callback", Message: "no such generation"}
	}
	if g.Status != generation.Processing || g.TaskID != report.TaskID {
		// Early (task id not stored yet), late, or for an abandoned attempt:
		// the poll job covers the first case, the others need nothing.
		return nil
	}
	lookCtx, cancel := context.WithTimeout(ctx, callbackLookup)
	task, err := c.accounts.of(g.Account).Suno.Task(lookCtx, report.TaskID)
	cancel()
	if err != nil {
		c.log.WarnContext(ctx, "callback not confirmed yet; polling", "generation", g.ID, "task", report.TaskID, "err", err)
		return c.send(ctx, pollJob(g, g.TaskID, g.Account, g.CreatedAt), 0)
	}
	_, err = c.applyTask(ctx, g, task, g.CreatedAt)
	return err
}

// Signature is the signature of generation id's callback URL.
func (c *Callbacks) Signature(ctx context.Context, id string) (string, error) {
	return c.signer.Signature(ctx, id)
}

// callbackLookup bounds the record-info a callback makes, well inside the
// 15 s Suno waits for the callback's answer.
const callbackLookup = 5 * time.Second
