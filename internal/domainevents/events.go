// Package domainevents tells the rest of an application what happened to
// its songs (DESIGN.md section 15): every create and every terminal change
// (completed, failed, cancelled, and an operator's retry of a failed song)
// becomes an event with source "songqueue", a detail-type per change and
// the generation's public view as detail.
//
// The events come from an outbox, never from a publish call after a
// write: the store records each change in the same write that makes it
// (the generations table's DynamoDB stream in AWS, the memory store's
// change log locally), and a Publisher reads those changes later,
// classifies them (Classify) and hands the events to a Sink: EventBridge
// in AWS, the log and a webhook locally. A function that dies after its
// write loses no event, and publishing adds nothing to the write's
// latency. Delivery is at least once; every event carries a stable id,
// the generation's id and version, so a consumer drops duplicates.
package domainevents

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/httpapi"
)

// Source is every event's source.
const Source = "songqueue"

// DetailType names the change an event reports.
type DetailType string

// The changes that are published. Nothing else is: progress, holds,
// claims and a completed song's copies change the generation but are not
// events.
const (
	Created   DetailType = "Generation Created"
	Completed DetailType = "Generation Completed"
	Failed    DetailType = "Generation Failed"
	Cancelled DetailType = "Generation Cancelled"
	// Retried is an operator's retry of a failed generation (failed →
	// pending), not the pipeline's own retries of an attempt.
	Retried DetailType = "Generation Retried"
)

// DetailTypes are every detail-type, in the order of a song's life.
var DetailTypes = []DetailType{Created, Completed, Failed, Cancelled, Retried}

// Classify says which event, if any, the change of a generation from old
// to new is: nil old is a new generation (Created), a status that became
// completed, failed or cancelled is that end, and failed → pending is an
// operator's retry. A removed generation (nil new), a change within a
// status and every other move is no event.
func Classify(old, new *generation.Generation) (DetailType, bool) {
	switch {
	case new == nil:
		return "", false
	case old == nil:
		return Created, true
	case old.Status == new.Status:
		return "", false
	case old.Status == generation.Failed && new.Status == generation.Pending:
		return Retried, true
	}
	switch new.Status {
	case generation.Completed:
		return Completed, true
	case generation.Failed:
		return Failed, true
	case generation.Cancelled:
		return Cancelled, true
	}
	return "", false
}

// Detail is an event's detail: the generation as GET
// /api/generation/status/{id} shows it (httpapi.View, with its version),
// and its owner, whom the consumers (notifications, billing) need and the
// owner's own view leaves out.
type Detail struct {
	httpapi.StatusResponse
	UserID string `json:"userId"`
}

// Event is one change to publish.
type Event struct {
	// ID is the generation's id and version (ID): the same for every
	// delivery of the same change.
	ID         string
	DetailType DetailType
	// Time is when the change was made (the generation's updatedAt).
	Time   time.Time
	Detail Detail
}

// ID is the stable id of the event of generation id at version.
func ID(generationID string, version int64) string {
	return fmt.Sprintf("%s:%d", generationID, version)
}

// New is the event dt of g, as stored.
func New(dt DetailType, g generation.Generation) Event {
	t := g.UpdatedAt
	if t.IsZero() {
		t = g.CreatedAt
	}
	return Event{
		ID: ID(g.ID, g.Version), DetailType: dt, Time: t.UTC(),
		Detail: Detail{StatusResponse: httpapi.View(g), UserID: g.UserID},
	}
}

// FromChange is the event of the change from old to new, if it is one.
func FromChange(old, new *generation.Generation) (Event, bool) {
	dt, ok := Classify(old, new)
	if !ok {
		return Event{}, false
	}
	return New(dt, *new), true
}

// Envelope is an event as EventBridge delivers it to a rule's target; the
// local stack posts the same to EVENTS_WEBHOOK_URL, so one consumer reads
// both. In AWS, EventBridge makes the id (and fills account and region):
// drop duplicates on detail.generationId and detail.version, which the
// local id is made of.
type Envelope struct {
	Version    string          `json:"version"`
	ID         string          `json:"id"`
	DetailType DetailType      `json:"detail-type"`
	Source     string          `json:"source"`
	Account    string          `json:"account"`
	Time       time.Time       `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
}

// LocalAccount and LocalRegion fill the envelope's account and region
// where no EventBridge does.
const (
	LocalAccount = "000000000000"
	LocalRegion  = "local"
)

// Envelope is e as the local stack delivers it.
func (e Event) Envelope() (Envelope, error) {
	detail, err := json.Marshal(e.Detail)
	if err != nil {
		return Envelope{}, fmt.Errorf("event %s: %w", e.ID, err)
	}
	return Envelope{
		Version: "0", ID: e.ID, DetailType: e.DetailType, Source: Source,
		Account: LocalAccount, Time: e.Time.Truncate(time.Second), Region: LocalRegion,
		Resources: []string{}, Detail: detail,
	}, nil
}
