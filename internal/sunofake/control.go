package sunofake

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"time"
)

// The control routes, under /_fake/, let a test, a script or a person
// change the fake while it runs. They answer only clients on this machine.

// control admits only loopback clients to h; anyone else gets 403.
func (s *Server) control(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !loopback(r.RemoteAddr) {
			writeControl(w, http.StatusForbidden, map[string]string{"error": "the /_fake/ routes answer only clients on this machine"})
			return
		}
		h(w, r)
	}
}

// loopback reports whether a RemoteAddr ("host:port") is 127.0.0.0/8 or
// ::1 (also as an IPv4-mapped address).
func loopback(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
}

func writeControl(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func decodeControl(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errors.New("body is not the expected JSON: " + err.Error())
	}
	return nil
}

// TroubleRequest is the body of POST /_fake/trouble.
type TroubleRequest struct {
	// Mode is a mode's name (ParseMode).
	Mode string `json:"mode"`
	// For, a Go duration such as "30s", makes the mode revert to "ok" by
	// itself; empty: until changed.
	For string `json:"for,omitempty"`
	// Key limits the mode to the calls carrying this API key; empty: all.
	Key string `json:"key,omitempty"`
	// Delay, a Go duration, sets the slow delay (SetSlowDelay).
	Delay string `json:"delay,omitempty"`
}

func (s *Server) handleSetTrouble(w http.ResponseWriter, r *http.Request) {
	var req TroubleRequest
	if err := decodeControl(r, &req); err != nil {
		writeControl(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	mode, err := ParseMode(req.Mode)
	if err != nil {
		writeControl(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	var d, delay time.Duration
	for _, f := range []struct {
		name, value string
		into        *time.Duration
	}{{"for", req.For, &d}, {"delay", req.Delay, &delay}} {
		if f.value == "" {
			continue
		}
		v, err := time.ParseDuration(f.value)
		if err != nil || v < 0 {
			writeControl(w, http.StatusBadRequest, map[string]string{"error": f.name + ": " + f.value + " is not a duration such as 30s"})
			return
		}
		*f.into = v
	}
	if err := s.SetTrouble(req.Key, mode, d); err != nil {
		writeControl(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	if delay > 0 {
		s.SetSlowDelay(delay)
	}
	s.handleState(w, r)
}

// CreditsRequest is the body of POST /_fake/credits: exactly one of
// Credits (set the balance; -1 for unlimited) and Add (top up).
type CreditsRequest struct {
	// Key names the account; empty: every account, and those made later.
	Key     string `json:"key,omitempty"`
	Credits *int   `json:"credits,omitempty"`
	Add     *int   `json:"add,omitempty"`
}

func (s *Server) handleSetCredits(w http.ResponseWriter, r *http.Request) {
	var req CreditsRequest
	if err := decodeControl(r, &req); err != nil {
		writeControl(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	var err error
	switch {
	case (req.Credits == nil) == (req.Add == nil):
		err = errors.New(`give exactly one of "credits" (the balance, -1 for unlimited) and "add" (a top-up)`)
	case req.Credits != nil:
		err = s.SetCredits(req.Key, *req.Credits)
	default:
		_, err = s.AddCredits(req.Key, *req.Add)
	}
	if err != nil {
		writeControl(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	s.handleState(w, r)
}

// handleState answers the State; the arrival times only with ?arrivals=1.
func (s *Server) handleState(w http.ResponseWriter, r *http.Request) {
	st := s.State()
	if r.URL.Query().Get("arrivals") == "" {
		for k, ks := range st.Keys {
			ks.AcceptedAt = nil
			st.Keys[k] = ks
		}
	}
	writeControl(w, http.StatusOK, st)
}
