package dynamo

import (
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/songqueue/songqueue/internal/generation"
)

// timeLayout is RFC 3339 in UTC with a fixed nine-digit fraction, so that
// stored times sort as strings (createdKey, deadline).
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// openShardValue is the one partition of the sparse byDeadline index. All
// open generations share it: at the service's Suno rate limit (10 a second)
// the index sees a few dozen small writes a second, far below one
// partition's 1,000.
const openShardValue = "open"

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeLayout)
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s)
}

// item is a generation as stored. The explicit layout keeps the table's
// schema independent of the domain types.
type item struct {
	GenerationID string      `dynamodbav:"generationId"`
	UserID       string      `dynamodbav:"userId"`
	Tier         string      `dynamodbav:"tier"`
	Status       string      `dynamodbav:"status"`
	Progress     int         `dynamodbav:"progress"`
	Message      string      `dynamodbav:"message,omitempty"`
	Request      requestItem `dynamodbav:"request"`
	TaskID       string      `dynamodbav:"taskId,omitempty"`
	Account      string      `dynamodbav:"account,omitempty"`
	Tracks       []trackItem `dynamodbav:"tracks,omitempty"`
	Error        string      `dynamodbav:"error,omitempty"`
	ErrorCode    string      `dynamodbav:"errorCode,omitempty"`
	WaitReason   string      `dynamodbav:"waitReason,omitempty"`
	HeldSince    string      `dynamodbav:"heldSince,omitempty"`
	Ticket       int64       `dynamodbav:"ticket,omitempty"`
	BulkID       string      `dynamodbav:"bulkId,omitempty"`
	Attempts     int         `dynamodbav:"attempts"`
	CreatedAt    string      `dynamodbav:"createdAt"`
	UpdatedAt    string      `dynamodbav:"updatedAt"`
	LeaseUntil   string      `dynamodbav:"leaseUntil,omitempty"`
	Deadline     string      `dynamodbav:"deadline,omitempty"`
	Version      int64       `dynamodbav:"version"`
	HoldsQuota   bool        `dynamodbav:"holdsQuota,omitempty"`
	SlotUntil    string      `dynamodbav:"slotUntil,omitempty"`
	Archived     bool        `dynamodbav:"archived,omitempty"`
	// CreatedKey orders a user's generations in byUser: createdAt#id.
	CreatedKey string `dynamodbav:"createdKey"`
	// OpenShard is set only while the generation is not terminal, which
	// keeps byDeadline sparse.
	OpenShard   string `dynamodbav:"openShard,omitempty"`
	SubmittedAt string `dynamodbav:"submittedAt,omitempty"`
	// WaitTier and WaitUntil are set only while the generation is pending
	// and waiting, which keeps byWait sparse: counting the delayed ones
	// reads only those. A held one's WaitTier is its tier and "#held"
	// (heldWaitTier), so that held and delayed are counted apart.
	WaitTier  string `dynamodbav:"waitTier,omitempty"`
	WaitUntil string `dynamodbav:"waitUntil,omitempty"`
	// TierState places the generation in byState: its tier and "open"
	// while pending or processing, else its final status. Open covers both
	// so that the index entry moves only at the start and the end, not at
	// every claim and retry.
	TierState string `dynamodbav:"tierState"`
}

type requestItem struct {
	Prompt       string `dynamodbav:"prompt"`
	Style        string `dynamodbav:"style,omitempty"`
	Title        string `dynamodbav:"title,omitempty"`
	Instrumental bool   `dynamodbav:"instrumental"`
	Model        string `dynamodbav:"model,omitempty"`
	CustomMode   bool   `dynamodbav:"customMode"`
	NegativeTags string `dynamodbav:"negativeTags,omitempty"`
}

type trackItem struct {
	ID             string  `dynamodbav:"id"`
	AudioURL       string  `dynamodbav:"audioUrl,omitempty"`
	StreamAudioURL string  `dynamodbav:"streamAudioUrl,omitempty"`
	ImageURL       string  `dynamodbav:"imageUrl,omitempty"`
	Title          string  `dynamodbav:"title,omitempty"`
	Duration       float64 `dynamodbav:"duration"`
	SourceAudioURL string  `dynamodbav:"sourceAudioUrl,omitempty"`
	SourceImageURL string  `dynamodbav:"sourceImageUrl,omitempty"`
}

func createdKey(createdAt time.Time, id string) string {
	return formatTime(createdAt) + "#" + id
}

func toItem(g generation.Generation) item {
	it := item{
		GenerationID: g.ID, UserID: g.UserID, Tier: string(g.Tier), Status: string(g.Status),
		Progress: g.Progress, Message: g.Message, TaskID: g.TaskID, Error: g.Error, Attempts: g.Attempts, HoldsQuota: g.HoldsQuota, Archived: g.Archived,
		ErrorCode: g.ErrorCode, WaitReason: g.WaitReason, Account: g.Account, Ticket: g.Ticket, BulkID: g.BulkID,
		Request: requestItem{
			Prompt: g.Request.Prompt, Style: g.Request.Style, Title: g.Request.Title,
			Instrumental: g.Request.Instrumental, Model: g.Request.Model, CustomMode: g.Request.CustomMode,
			NegativeTags: g.Request.NegativeTags,
		},
		CreatedAt: formatTime(g.CreatedAt), UpdatedAt: formatTime(g.UpdatedAt),
		LeaseUntil: formatTime(g.LeaseUntil), Deadline: formatTime(g.Deadline),
		Version:    g.Version,
		CreatedKey: createdKey(g.CreatedAt, g.ID),
	}
	for _, t := range g.Tracks {
		it.Tracks = append(it.Tracks, trackItem(t))
	}
	if g.Open() {
		it.OpenShard = openShardValue
	}
	it.SubmittedAt = formatTime(g.SubmittedAt)
	switch {
	case g.Held():
		it.WaitTier, it.WaitUntil = heldWaitTier(g.Tier), formatTime(g.WaitUntil)
	case g.Status == generation.Pending && !g.WaitUntil.IsZero():
		it.WaitTier, it.WaitUntil = string(g.Tier), formatTime(g.WaitUntil)
	}
	it.TierState = tierState(g.Tier, g.Status)
	it.SlotUntil = formatTime(g.SlotUntil)
	if !g.HeldSince.IsZero() {
		it.HeldSince = formatTime(g.HeldSince)
	}
	return it
}

// tierState is a generation's partition of byState.
func tierState(t generation.Tier, st generation.Status) string {
	if !st.Terminal() {
		return string(t) + "#open"
	}
	return string(t) + "#" + string(st)
}

func (it item) generation() (generation.Generation, error) {
	g := generation.Generation{
		ID: it.GenerationID, UserID: it.UserID, Tier: generation.Tier(it.Tier), Status: generation.Status(it.Status),
		Progress: it.Progress, Message: it.Message, TaskID: it.TaskID, Error: it.Error, Attempts: it.Attempts, HoldsQuota: it.HoldsQuota, Archived: it.Archived,
		ErrorCode: it.ErrorCode, WaitReason: it.WaitReason, Account: it.Account, Ticket: it.Ticket, BulkID: it.BulkID,
		Request: generation.Request{
			Prompt: it.Request.Prompt, Style: it.Request.Style, Title: it.Request.Title,
			Instrumental: it.Request.Instrumental, Model: it.Request.Model, CustomMode: it.Request.CustomMode,
			NegativeTags: it.Request.NegativeTags,
		},
		Version: it.Version,
	}
	for _, t := range it.Tracks {
		g.Tracks = append(g.Tracks, generation.Track(t))
	}
	for _, f := range []struct {
		dst *time.Time
		src string
	}{{&g.CreatedAt, it.CreatedAt}, {&g.UpdatedAt, it.UpdatedAt}, {&g.LeaseUntil, it.LeaseUntil}, {&g.Deadline, it.Deadline},
		{&g.SubmittedAt, it.SubmittedAt}, {&g.WaitUntil, it.WaitUntil}, {&g.HeldSince, it.HeldSince}, {&g.SlotUntil, it.SlotUntil}} {
		t, err := parseTime(f.src)
		if err != nil {
			return generation.Generation{}, fmt.Errorf("generation %s: bad time %q: %w", it.GenerationID, f.src, err)
		}
		*f.dst = t
	}
	return g, nil
}

func marshalGeneration(g generation.Generation) (map[string]types.AttributeValue, error) {
	av, err := attributevalue.MarshalMap(toItem(g))
	if err != nil {
		return nil, fmt.Errorf("encode generation %s: %w", g.ID, err)
	}
	return av, nil
}

func unmarshalGeneration(av map[string]types.AttributeValue) (generation.Generation, error) {
	var it item
	if err := attributevalue.UnmarshalMap(av, &it); err != nil {
		return generation.Generation{}, fmt.Errorf("decode generation: %w", err)
	}
	return it.generation()
}

// ItemSize is the size DynamoDB bills an item by: the UTF-8 length of each
// attribute name plus the size of its value, following the rules of the
// DynamoDB developer guide ("Item sizes and formats"). Numbers are counted
// at their upper bound.
func ItemSize(av map[string]types.AttributeValue) int {
	n := 0
	for k, v := range av {
		n += len(k) + valueSize(v)
	}
	return n
}

func valueSize(v types.AttributeValue) int {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return len(v.Value)
	case *types.AttributeValueMemberN:
		return (len(v.Value)+1)/2 + 1
	case *types.AttributeValueMemberB:
		return len(v.Value)
	case *types.AttributeValueMemberBOOL, *types.AttributeValueMemberNULL:
		return 1
	case *types.AttributeValueMemberM:
		n := 3
		for k, e := range v.Value {
			n += len(k) + valueSize(e) + 1
		}
		return n
	case *types.AttributeValueMemberL:
		n := 3
		for _, e := range v.Value {
			n += valueSize(e) + 1
		}
		return n
	case *types.AttributeValueMemberSS:
		n := 0
		for _, s := range v.Value {
			n += len(s)
		}
		return n
	}
	return 0
}
