package httpapi_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/httpapi"
)

// FuzzCreate throws arbitrary bodies at the create route: every answer must
// be a 202 or a documented 4xx with the error shape, never a 500 or a panic.
func FuzzCreate(f *testing.F) {
	for _, seed := range []string{
		`{"prompt":"a calm piano song"}`,
		`{"prompt":"x","customMode":true,"style":"rock","title":"t","model":"V4"}`,
		`{"prompt":"a","tier":"ENTERPRISE"}`, `[]`, `null`, `{"prompt":1}`, "{\"prompt\":\"\xff\"}", `{`, ``,
	} {
		f.Add(seed)
	}
	fx := newFixture(f)
	tok := fx.token(f, "fuzzer", generation.Free)
	f.Fuzz(func(t *testing.T, body string) {
		rec, eb := fx.do("POST", "/api/generation/create", tok, body)
		switch rec.Code {
		case http.StatusAccepted:
			var out httpapi.CreateResponse
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out.GenerationID == "" || out.Tier != generation.Free {
				t.Fatalf("202 with a bad answer %s", rec.Body)
			}
			req, err := httpapi.DecodeCreate(strings.NewReader(body))
			if err != nil {
				t.Fatalf("accepted a body DecodeCreate refuses: %v", err)
			}
			if err := req.Normalize().Validate(); err != nil {
				t.Fatalf("accepted an invalid request: %v", err)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			if eb.Error.Code == "" || eb.Error.Message == "" {
				t.Fatalf("%d without the error shape: %s", rec.Code, rec.Body)
			}
		default:
			t.Fatalf("status %d for body %q: %s", rec.Code, body, rec.Body)
		}
	})
}
