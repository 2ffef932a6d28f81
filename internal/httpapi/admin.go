package httpapi

import (
	"context"
	"net/http"
	"strings"

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
		Tier:   generation.Tier(strings.ToUpper(q.Get("tier"))),
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
		tier := generation.Tier(strings.ToUpper(r.PathValue("tier")))
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
	switch t := generation.Tier(strings.ToUpper(s)); {
	case s == "" || strings.EqualFold(s, "all"):
		return generation.Tiers[:], nil
	case t.Valid():
		return []generation.Tier{t}, nil
	}
	return nil, badBody("invalid_tier", "tier must be ENTERPRISE, PREMIUM, PRO, FREE or all")
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
