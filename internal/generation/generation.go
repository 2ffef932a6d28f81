package generation

import (
	"errors"
	"time"
)

// Track is one song Suno made for a generation.
type Track struct {
	ID             string  `json:"id"`
	AudioURL       string  `json:"audioUrl"`
	StreamAudioURL string  `json:"streamAudioUrl"`
	ImageURL       string  `json:"imageUrl"`
	Title          string  `json:"title"`
	Duration       float64 `json:"duration"`
	// SourceAudioURL and SourceImageURL are Suno's, kept once AudioURL and
	// ImageURL point at the stack's own copies.
	SourceAudioURL string `json:"sourceAudioUrl,omitempty"`
	SourceImageURL string `json:"sourceImageUrl,omitempty"`
}

// Progress milestones, as the seed reported them.
const (
	ProgressPickedUp  = 10
	ProgressSubmitted = 30
	ProgressFirst     = 70
	ProgressSaving    = 90
	ProgressDone      = 100
)

// Generation is one request for a song and everything that happened to it.
// Its methods are the only way its status changes, so the lifecycle rules
// live here and nowhere else.
type Generation struct {
	ID       string
	UserID   string
	Tier     Tier
	Status   Status
	Progress int
	Message  string
	Request  Request
	TaskID   string
	// Account is the Suno account that submitted TaskID: every later call
	// about the task goes to it.
	Account string
	Tracks  []Track
	Error   string
	// ErrorCode is why a failed generation failed, from the closed list
	// of ErrorCodes; Error says it in plain words.
	ErrorCode string
	Attempts  int
	CreatedAt time.Time
	UpdatedAt time.Time
	// LeaseUntil is how long a worker's claim holds while it has not yet
	// submitted to Suno. A redelivered job may take over an expired lease,
	// so a worker that died mid-claim does not strand the generation.
	LeaseUntil time.Time
	// Deadline is when a generation that is still unfinished counts as
	// stuck, for the sweeper: the end of a claim, of Suno's time for an
	// attempt, or of a retry's wait for its job.
	Deadline time.Time
	// SubmittedAt is when the current attempt reached Suno, for the time
	// Suno takes.
	SubmittedAt time.Time
	// WaitUntil is when a pending generation that is waiting (a retry's
	// backoff, a rate limit) becomes ready again; zero when it is ready.
	// Queue statistics count it as delayed until then.
	WaitUntil time.Time
	// WaitReason says why a pending generation is held (ReasonFor... in
	// package health: Suno unavailable, out of credits, its tier paused),
	// and HeldSince since when, for the bound GENERATION_MAX_WAIT puts on
	// a hold. Both clear when it is submitted.
	WaitReason string
	HeldSince  time.Time
	// Ticket is how many generations of its tier had entered the line
	// (been created or sent back to wait) before it was created: with the
	// store's count of those that have entered since, it places g in its
	// tier's line (service.Place).
	Ticket int64
	// BulkID is the operator's bulk action that last changed g, written
	// with the change: a bulk action that runs again finds what it did.
	BulkID string
	// Version increases with every stored change; stores write only if the
	// version they read is still current (optimistic concurrency).
	Version int64
	// HoldsQuota says the generation counts against its owner's quota of
	// open generations until it ends; the store frees the slot then.
	HoldsQuota bool
	// SlotUntil is set on a generation cancelled while Suno was making it:
	// when Suno's task would have ended. Its slot stays taken until then
	// (the store keeps the hold with the owner's quota), so a cancel does
	// not free room for another song while Suno still spends credits on
	// this one.
	SlotUntil time.Time
	// Archived says the tracks' files are copies in the stack's own
	// storage, which outlive Suno's (deleted after about 15 days).
	Archived bool
}

// Open reports whether work is left on g, which the sweeper looks after
// once its deadline passes: it is unfinished, or it completed without its
// copies and another try is scheduled (a non-zero deadline).
func (g *Generation) Open() bool {
	return !g.Status.Terminal() || (g.Status == Completed && !g.Archived && !g.Deadline.IsZero())
}

// ErrNoChange is returned by a transition that has already happened, such as
// a second "first track ready" for the same task. Callers treat it as
// success: it is what makes duplicate callbacks and polls idempotent.
var ErrNoChange = errors.New("generation already in that state")

// New returns a pending generation.
func New(id, userID string, tier Tier, req Request, now time.Time, deadline time.Duration) Generation {
	return Generation{
		ID: id, UserID: userID, Tier: tier, Status: Pending, Request: req,
		Message:   "Queued",
		CreatedAt: now, UpdatedAt: now, Deadline: now.Add(deadline),
	}
}

// AudioURL is the first track's audio, the seed's single audioUrl.
func (g *Generation) AudioURL() string {
	if len(g.Tracks) == 0 {
		return ""
	}
	return g.Tracks[0].AudioURL
}

func (g *Generation) move(to Status, now time.Time) error {
	if !CanTransition(g.Status, to) {
		return &TransitionError{From: g.Status, To: to}
	}
	g.Status = to
	g.UpdatedAt = now
	return nil
}

// Claimable reports whether a worker delivering the given attempt may claim
// the generation: it is waiting for that attempt.
func (g *Generation) Claimable(attempt int) bool {
	return g.Status == Pending && attempt == g.Attempts+1
}

// ClaimHeld reports whether a worker holds the claim of attempt and may
// still be submitting it: another delivery of the same job must wait for
// the lease to end rather than vanish, in case that worker has died.
func (g *Generation) ClaimHeld(attempt int, now time.Time) bool {
	return g.Status == Processing && g.TaskID == "" && attempt == g.Attempts && !now.After(g.LeaseUntil)
}

// ClaimLapsed reports whether the claim of attempt ended without a
// submission: the worker that held it died (a claim outlives any worker
// invocation). Nothing says whether it reached Suno first, so the attempt
// counts as failed, and the next is a new one: one Suno submission per
// attempt.
func (g *Generation) ClaimLapsed(attempt int, now time.Time) bool {
	return g.Status == Processing && g.TaskID == "" && attempt == g.Attempts && now.After(g.LeaseUntil)
}

// Claim starts an attempt. lease bounds how long the claim blocks others;
// the generation is due for the sweeper when it ends, so a claim whose
// worker died is found soon.
func (g *Generation) Claim(attempt int, now time.Time, lease time.Duration) error {
	if !g.Claimable(attempt) {
		if g.Status.Terminal() {
			return &TransitionError{From: g.Status, To: Processing}
		}
		return ErrNoChange
	}
	g.Attempts++
	g.Status = Processing
	g.UpdatedAt = now
	g.Progress = ProgressPickedUp
	g.Message = "Picked up by a worker"
	g.LeaseUntil = now.Add(lease)
	g.Deadline = g.LeaseUntil
	g.WaitUntil = time.Time{}
	g.SubmittedAt = time.Time{}
	g.WaitReason, g.HeldSince = "", time.Time{}
	return nil
}

// Hold keeps the generation pending without spending an attempt while
// something outside it stops it (Suno's health or credits, a paused
// tier); until is when it looks again. An attempt claimed but not yet at
// Suno goes back to pending, as a rate-limit wait does. HeldSince keeps
// the start of an unbroken hold.
func (g *Generation) Hold(reason, message string, now, until time.Time) error {
	switch {
	case g.Status == Processing && g.TaskID == "":
		g.Status = Pending
		g.Attempts--
		g.Progress = 0
		g.LeaseUntil = time.Time{}
	case g.Status != Pending:
		return g.noChangeOr(Pending)
	}
	if g.HeldSince.IsZero() {
		g.HeldSince = now
	}
	g.WaitReason, g.Message, g.WaitUntil, g.UpdatedAt = reason, message, until, now
	return nil
}

// Spend counts a pending generation's last attempt as failed with reason,
// once it is known to have been the song's (a suspect failure while Suno
// was fine for everyone else).
func (g *Generation) Spend(reason string, now time.Time) error {
	if g.Status != Pending {
		return g.noChangeOr(Pending)
	}
	g.Attempts++
	g.Error = reason
	g.UpdatedAt = now
	return nil
}

// Delayed reports whether g is pending but waiting until later, and not
// held (Held).
func (g *Generation) Delayed(now time.Time) bool {
	return g.Status == Pending && g.WaitUntil.After(now) && !g.Held()
}

// Held reports whether g is pending and held for a reason its owner is
// told (WaitReason: Suno unavailable, out of credits, its tier paused),
// whenever it is next looked at.
func (g *Generation) Held() bool {
	return g.Status == Pending && g.WaitReason != ""
}

// Submitted records Suno's task id. deadline bounds how long Suno may take.
func (g *Generation) Submitted(taskID string, now time.Time, deadline time.Duration) error {
	if g.Status != Processing || g.TaskID != "" {
		return g.noChangeOr(Processing)
	}
	g.TaskID = taskID
	g.SubmittedAt = now
	g.Progress = ProgressSubmitted
	g.Message = "Submitted to Suno"
	g.LeaseUntil = time.Time{}
	g.Deadline = now.Add(deadline)
	g.UpdatedAt = now
	return nil
}

// FirstReady records that Suno has a first track to stream.
func (g *Generation) FirstReady(tracks []Track, now time.Time) error {
	return g.advance(ProgressFirst, "First track ready", tracks, now)
}

// Saving records that every track is ready and is being saved.
func (g *Generation) Saving(tracks []Track, now time.Time) error {
	return g.advance(ProgressSaving, "Saving your song", tracks, now)
}

func (g *Generation) advance(progress int, msg string, tracks []Track, now time.Time) error {
	if g.Status != Processing || g.TaskID == "" || g.Progress >= progress {
		return g.noChangeOr(Processing)
	}
	g.Progress = progress
	g.Message = msg
	if len(tracks) > 0 {
		g.Tracks = tracks
	}
	g.UpdatedAt = now
	return nil
}

// Complete finishes the generation with its tracks.
func (g *Generation) Complete(tracks []Track, now time.Time) error {
	if g.Status == Completed {
		return ErrNoChange
	}
	if g.Status == Processing && g.TaskID == "" {
		return &TransitionError{From: g.Status, To: Completed}
	}
	if err := g.move(Completed, now); err != nil {
		return err
	}
	g.Progress = ProgressDone
	g.Message = "Your song is ready"
	if len(tracks) > 0 {
		g.Tracks = tracks
	}
	g.Error = ""
	g.Deadline = time.Time{}
	return nil
}

// Saved records that the tracks' files were copied: tracks point at the
// copies. It completes a generation that was saving, or fixes up one that
// completed with Suno's URLs.
func (g *Generation) Saved(tracks []Track, now time.Time) error {
	switch {
	case g.Status == Completed && g.Archived:
		return ErrNoChange
	case g.Status == Completed:
		g.Tracks, g.Archived, g.Deadline, g.UpdatedAt = tracks, true, time.Time{}, now
		return nil
	case g.Status != Processing || g.Progress != ProgressSaving:
		return g.noChangeOr(Completed)
	}
	if err := g.Complete(tracks, now); err != nil {
		return err
	}
	g.Archived = true
	return nil
}

// Fail ends the generation with reason.
func (g *Generation) Fail(reason string, now time.Time) error {
	return g.FailWith("", reason, now)
}

// FailWith ends the generation with code (one of ErrorCodes) and a plain
// message.
func (g *Generation) FailWith(code, message string, now time.Time) error {
	if g.Status == Failed {
		return ErrNoChange
	}
	if err := g.move(Failed, now); err != nil {
		return err
	}
	g.Error, g.ErrorCode = message, code
	g.WaitReason, g.HeldSince = "", time.Time{}
	g.Message = "Generation failed"
	g.LeaseUntil = time.Time{}
	g.WaitUntil = time.Time{}
	return nil
}

// Retry puts a failed attempt back to pending until its backoff ends at
// until; the caller schedules it.
func (g *Generation) Retry(reason string, now, until time.Time) error {
	if g.Status != Processing {
		return g.noChangeOr(Pending)
	}
	g.Status = Pending
	g.UpdatedAt = now
	g.Progress = 0
	g.TaskID = ""
	g.Tracks = nil
	g.Error = reason
	g.Message = "Retrying after a temporary error"
	g.LeaseUntil = time.Time{}
	g.WaitUntil = until
	return nil
}

// Defer puts an attempt that was turned away by a rate limit back to
// pending until until, without counting it: waiting for capacity is not a
// failure.
func (g *Generation) Defer(now, until time.Time) error {
	if g.Status != Processing || g.TaskID != "" {
		return g.noChangeOr(Pending)
	}
	g.Status = Pending
	g.Attempts--
	g.Progress = 0
	g.Message = "Waiting for capacity"
	g.LeaseUntil = time.Time{}
	g.WaitUntil = until
	g.UpdatedAt = now
	return nil
}

// Revive gives a failed generation a fresh set of attempts under the same
// id: an operator's decision that whatever failed it is fixed. It is the
// one way out of a terminal status. The revived generation holds no quota
// slot: the owner did not ask for it again.
func (g *Generation) Revive(now time.Time) error {
	if g.Status != Failed {
		return &TransitionError{From: g.Status, To: Pending}
	}
	g.Status = Pending
	g.Attempts = 0
	g.Progress = 0
	g.TaskID = ""
	g.Tracks = nil
	g.Error, g.ErrorCode = "", ""
	g.WaitReason, g.HeldSince = "", time.Time{}
	g.Message = "Queued again by an operator"
	g.LeaseUntil = time.Time{}
	g.WaitUntil = time.Time{}
	g.SubmittedAt = time.Time{}
	g.HoldsQuota = false
	g.UpdatedAt = now
	return nil
}

// Cancel stops the generation wherever it is. Every later stage sees the
// cancelled status through its conditional write and stops too.
func (g *Generation) Cancel(now time.Time) error {
	if g.Status == Cancelled {
		return ErrNoChange
	}
	if err := g.move(Cancelled, now); err != nil {
		return err
	}
	g.Message = "Cancelled"
	g.LeaseUntil = time.Time{}
	g.WaitUntil = time.Time{}
	g.WaitReason, g.HeldSince = "", time.Time{}
	return nil
}

func (g *Generation) noChangeOr(to Status) error {
	if g.Status.Terminal() {
		return &TransitionError{From: g.Status, To: to}
	}
	return ErrNoChange
}
