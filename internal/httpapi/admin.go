package httpapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/identity"
	"github.com/songqueue/songqueue/internal/service"
)

// Admin is what the operator routes need of the service; it checks that
// the caller is an operator.
type Admin interface {
	AdminList(ctx context.Context, c identity.Caller, f service.Filter, limit int, cursor string) (service.Page, error)
	AdminRetry(ctx context.Context, c identity.Caller, id string) (generation.Generation, error)
	QueueControls(ctx context.Context, c identity.Caller) (map[generation.Tier]service.QueueControl, error)
	SetPaused(ctx context.Context, c identity.Caller, tier generation.Tier, paused bool) error
	ListDeadLetters(ctx context.Context, c identity.Caller, tiers []generation.Tier, max int) ([]service.DeadLetterView, error)
	Redrive(ctx context.Context, c identity.Caller, tiers []generation.Tier) (map[generation.Tier]int, error)
	SunoAccounts(ctx context.Context, c identity.Caller) ([]service.AccountHealth, error)
	ProbeSuno(ctx context.Context, c identity.Caller, account string) (service.AccountHealth, error)
	StartBulk(ctx context.Context, c identity.Caller, r service.BulkRequest) (service.BulkAnswer, error)
	BulkStatus(ctx context.Context, c identity.Caller, id string) (service.Bulk, error)
	Audit(ctx context.Context, c identity.Caller, limit int) ([]service.AuditEntry, error)
}

func (a *api) adminRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/admin/generations", a.authed(a.adminList))
	mux.HandleFunc("POST /api/admin/generations/{id}/retry", a.authed(a.adminRetry))
	mux.HandleFunc("GET /api/admin/queues", a.authed(a.adminQueues))
	mux.HandleFunc("POST /api/admin/queues/{tier}/pause", a.authed(a.adminPause(true)))
	mux.HandleFunc("POST /api/admin/queues/{tier}/resume", a.authed(a.adminPause(false)))
	mux.HandleFunc("GET /api/admin/deadletters", a.authed(a.adminDeadLetters))
	mux.HandleFunc("POST /api/admin/deadletters/redrive", a.authed(a.adminRedrive))
	mux.HandleFunc("GET /api/admin/suno", a.authed(a.adminSuno))
	mux.HandleFunc("POST /api/admin/suno/{account}/probe", a.authed(a.adminProbe))
	mux.HandleFunc("POST /api/admin/bulk", a.authed(a.adminBulk))
	mux.HandleFunc("GET /api/admin/bulk/{bulkId}", a.authed(a.adminBulkStatus))
	mux.HandleFunc("GET /api/admin/audit", a.authed(a.adminAudit))
}

// bulkBody is a bulk request as sent: dryRun defaults to true, so that
// nothing changes until an operator confirms.
type bulkBody struct {
	Action string         `json:"action"`
	Filter service.Filter `json:"filter"`
	DryRun *bool          `json:"dryRun"`
}

// BulkDryRunResponse is a dry run's count and a sample of the songs.
type BulkDryRunResponse struct {
	Matched int         `json:"matched"`
	Sample  []AdminItem `json:"sample"`
}

// BulkStartedResponse is a confirmed bulk action.
type BulkStartedResponse struct {
	BulkID  string `json:"bulkId"`
	Matched int    `json:"matched"`
}

func (a *api) adminBulk(w http.ResponseWriter, r *http.Request, c identity.Caller) {
	data, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil || len(data) > MaxBody {
		a.fail(w, r, errTooLarge)
		return
	}
	var body bulkBody
	if err := decodeStrict(data, &body); err != nil {
		a.fail(w, r, err)
		return
	}
	req := service.BulkRequest{Action: service.BulkAction(body.Action), Filter: body.Filter, DryRun: body.DryRun == nil || *body.DryRun}
	req.Filter.Tier = generation.TierNamed(string(req.Filter.Tier))
	ans, err := a.ops.StartBulk(r.Context(), c, req)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if req.DryRun {
		out := BulkDryRunResponse{Matched: ans.Matched, Sample: make([]AdminItem, 0, len(ans.Sample))}
		for _, g := range ans.Sample {
			out.Sample = append(out.Sample, adminView(g))
		}
		writeJSON(w, http.StatusOK, out)
		return
	}
	writeJSON(w, http.StatusAccepted, BulkStartedResponse{BulkID: ans.BulkID, Matched: ans.Matched})
}

// BulkStatusResponse is how far a bulk action has got.
type BulkStatusResponse struct {
	BulkID    string         `json:"bulkId"`
	Action    string         `json:"action"`
	Status    string         `json:"status"`
	Matched   int            `json:"matched"`
	Changed   int            `json:"changed"`
	Filter    service.Filter `json:"filter"`
	By        string         `json:"by"`
	CreatedAt time.Time      `json:"createdAt"`
	UpdatedAt time.Time      `json:"updatedAt"`
}

func (a *api) adminBulkStatus(w http.ResponseWriter, r *http.Request, c identity.Caller) {
	b, err := a.ops.BulkStatus(r.Context(), c, r.PathValue("bulkId"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, BulkStatusResponse{b.ID, string(b.Action), b.Status, b.Matched, b.Changed, b.Filter, b.By, b.CreatedAt, b.UpdatedAt})
}

// AuditResponse is the latest operator actions, newest first.
type AuditResponse struct {
	Entries []service.AuditEntry `json:"entries"`
}

func (a *api) adminAudit(w http.ResponseWriter, r *http.Request, c identity.Caller) {
	limit, err := auditLimit(r.URL.Query())
	if err != nil {
		a.fail(w, r, err)
		return
	}
	entries, err := a.ops.Audit(r.Context(), c, limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if entries == nil {
		entries = []service.AuditEntry{}
	}
	writeJSON(w, http.StatusOK, AuditResponse{Entries: entries})
}

func auditLimit(q url.Values) (int, error) {
	if !q.Has("limit") {
		return 0, nil
	}
	n, err := strconv.Atoi(q.Get("limit"))
	if err != nil || n < 1 || n > 200 {
		return 0, badBody("invalid_limit", "limit must be a whole number between 1 and 200")
	}
	return n, nil
}

// SunoResponse is each Suno account's health.
type SunoResponse struct {
	Accounts []service.AccountHealth `json:"accounts"`
}

func (a *api) adminSuno(w http.ResponseWriter, r *http.Request, c identity.Caller) {
	accounts, err := a.ops.SunoAccounts(r.Context(), c)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, SunoResponse{Accounts: accounts})
}

func (a *api) adminProbe(w http.ResponseWriter, r *http.Request, c identity.Caller) {
	account, err := a.ops.ProbeSuno(r.Context(), c, r.PathValue("account"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, account)
}

// AdminItem is a generation as an operator sees it: with its owner.
type AdminItem struct {
	StatusResponse
	UserID string `json:"userId"`
}

// AdminListResponse is a page of everyone's generations.
type AdminListResponse struct {
	Items      []AdminItem `json:"items"`
	NextCursor string      `json:"nextCursor,omitempty"`
}

func adminView(g generation.Generation) AdminItem {
	return AdminItem{StatusResponse: View(g), UserID: g.UserID}
}

func (a *api) adminList(w http.ResponseWriter, r *http.Request, c identity.Caller) {
	q := r.URL.Query()
	limit, err := pageLimit(q)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	f := service.Filter{
		Status: generation.Status(strings.ToLower(q.Get("status"))),
		Tier:   generation.TierNamed(q.Get("tier")),
		UserID: q.Get("user"),
	}
	p, err := a.ops.AdminList(r.Context(), c, f, limit, q.Get("cursor"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := AdminListResponse{Items: make([]AdminItem, 0, len(p.Items)), NextCursor: p.NextCursor}
	for _, g := range p.Items {
		out.Items = append(out.Items, adminView(g))
	}
	writeJSON(w, http.StatusOK, out)
}

func (a *api) adminRetry(w http.ResponseWriter, r *http.Request, c identity.Caller) {
	g, err := a.ops.AdminRetry(r.Context(), c, r.PathValue("id"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, adminView(g))
}

// QueuesResponse is each tier's queue controls.
type QueuesResponse struct {
	Queues map[generation.Tier]service.QueueControl `json:"queues"`
}

func (a *api) adminQueues(w http.ResponseWriter, r *http.Request, c identity.Caller) {
	qs, err := a.ops.QueueControls(r.Context(), c)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, QueuesResponse{Queues: qs})
}

func (a *api) adminPause(paused bool) handler {
	return func(w http.ResponseWriter, r *http.Request, c identity.Caller) {
		tier := generation.TierNamed(r.PathValue("tier"))
		if err := a.ops.SetPaused(r.Context(), c, tier, paused); err != nil {
			a.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"tier": tier, "paused": paused})
	}
}

// tiersParam reads the tier query parameter: one tier, or every tier when
// it is absent or "all".
func tiersParam(s string) ([]generation.Tier, error) {
	switch t := generation.TierNamed(s); {
	case s == "" || strings.EqualFold(s, "all"):
		return generation.Tiers[:], nil
	case t.Valid():
		return []generation.Tier{t}, nil
	}
	return nil, badBody("unknown_tier", fmt.Sprintf("tier %q is not one of ENTERPRISE, PREMIUM, PRO, FREE or all", s))
}

// maxDeadLettersShown bounds the dead letters shown per tier.
const maxDeadLettersShown = 50

// DeadLettersResponse lists dead letters, tier by tier.
type DeadLettersResponse struct {
	Items []service.DeadLetterView `json:"items"`
}

func (a *api) adminDeadLetters(w http.ResponseWriter, r *http.Request, c identity.Caller) {
	q := r.URL.Query()
	tiers, err := tiersParam(q.Get("tier"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	limit, err := pageLimit(q)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	if limit == 0 || limit > maxDeadLettersShown {
		limit = min(max(limit, 10), maxDeadLettersShown)
	}
	items, err := a.ops.ListDeadLetters(r.Context(), c, tiers, limit)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, DeadLettersResponse{Items: items})
}

// RedriveResponse says how many dead letters went back, per tier.
type RedriveResponse struct {
	Moved map[generation.Tier]int `json:"moved"`
	Total int                     `json:"total"`
}

func (a *api) adminRedrive(w http.ResponseWriter, r *http.Request, c identity.Caller) {
	tiers, err := tiersParam(r.URL.Query().Get("tier"))
	if err != nil {
		a.fail(w, r, err)
		return
	}
	moved, err := a.ops.Redrive(r.Context(), c, tiers)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	out := RedriveResponse{Moved: moved}
	for _, n := range moved {
		out.Total += n
	}
	writeJSON(w, http.StatusOK, out)
}
