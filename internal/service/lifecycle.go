package service

// The steps of a generation's life. Each is one log line ("lifecycle")
// carrying the generation, its owner, tier and attempt, and the request
// that took it (the logger adds requestId), so that an operator can follow
// one song by its id (DESIGN.md section 10).
const (
	stepCreated    = "created"
	stepClaimed    = "claimed"
	stepSubmitted  = "submitted"
	stepFirstReady = "first_ready"
	stepSaving     = "saving"
	stepCompleted  = "completed"
	stepFailed     = "failed"
	stepRetried    = "retried"
	stepWaiting    = "waiting"  // for a rate limit: the limiter's or Suno's
	stepPaused     = "paused"   // its tier is paused; the job looks again later
	stepHeld       = "held"     // Suno is unavailable or out of credits: the song waits, spending nothing
	stepReleased   = "released" // a held song goes to Suno
	stepSuspect    = "suspect"  // a server error or unreachable Suno: counted later if Suno is fine
	stepCancelled  = "cancelled"
	stepDeleted    = "deleted"
	stepRevived    = "revived" // an operator gave a failed generation new attempts
	// stepNotArchived: its files could not be copied; it completed with
	// Suno's URLs and the sweeper tries again later.
	stepNotArchived = "not_archived"
	// stepArchived: a song that had completed with Suno's URLs now has
	// its copies.
	stepArchived = "archived"
)
