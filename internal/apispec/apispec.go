// Package apispec holds the code to openapi.yaml: tests send their HTTP
// API requests through Spec.Transport, which checks every request and
// response against the document (pb33f's libopenapi-validator, which reads
// OpenAPI 3.1), so a field, status or header the code has and the spec
// lacks fails the test that met it.
package apispec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/config"
	verrors "github.com/pb33f/libopenapi-validator/errors"
)

// Spec is a loaded OpenAPI document.
type Spec struct {
	mu sync.Mutex // the validator's caches are not meant to be shared
	v  validator.Validator
}

// Path is openapi.yaml at the repository's root.
func Path() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "openapi.yaml")
}

// Load reads and checks the document: it must be valid OpenAPI 3.1.
func Load(path string) (*Spec, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(raw)
}

// Parse is Load from bytes.
func Parse(raw []byte) (*Spec, error) {
	doc, err := libopenapi.NewDocument(raw)
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	if v := doc.GetVersion(); !strings.HasPrefix(v, "3.1") {
		return nil, fmt.Errorf("openapi: version %q, want 3.1", v)
	}
	// Strict: a property or header the document does not declare is a
	// mismatch too, even where a schema leaves additionalProperties open;
	// but for Apigw-Requestid, which API Gateway (and the local stack in
	// its place) adds to every answer, an answer of any route.
	v, errs := validator.NewValidator(doc, config.WithStrictMode(), config.WithStrictIgnoredHeadersExtra("apigw-requestid"))
	if len(errs) > 0 {
		return nil, fmt.Errorf("openapi: %w", errors.Join(errs...))
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		return nil, fmt.Errorf("openapi: the document is not valid OpenAPI 3.1:\n%s", describe(verrs))
	}
	return &Spec{v: v}, nil
}

// Covers reports whether the document describes path's route family: the
// HTTP API, not the page, the media files, the WebSocket or the local
// stack's development routes.
func Covers(path string) bool {
	return strings.HasPrefix(path, "/api/") && !strings.HasPrefix(path, "/api/dev/")
}

// Check validates one exchange. A request the API refused (4xx) may break
// the contract on purpose, as tests of hostile input do; its answer must
// still be one the document describes. A request it accepted must conform.
func (s *Spec) Check(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var problems []*verrors.ValidationError
	if resp.StatusCode < 400 {
		r := req.Clone(req.Context())
		r.Body = io.NopCloser(bytes.NewReader(reqBody))
		if ok, errs := s.v.ValidateHttpRequestSync(r); !ok {
			problems = append(problems, errs...)
		}
	}
	r := req.Clone(req.Context())
	r.Body = io.NopCloser(bytes.NewReader(reqBody))
	res := *resp
	res.Body = io.NopCloser(bytes.NewReader(respBody))
	if ok, errs := s.v.ValidateHttpResponse(r, &res); !ok {
		problems = append(problems, errs...)
	}
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("%s %s → %d does not match openapi.yaml:\n%s\nresponse: %s", req.Method, req.URL.RequestURI(), resp.StatusCode, describe(problems), clip(respBody))
}

func describe(errs []*verrors.ValidationError) string {
	var b strings.Builder
	for _, e := range errs {
		fmt.Fprintf(&b, "  - %s: %s", e.Message, e.Reason)
		for _, se := range e.SchemaValidationErrors {
			fmt.Fprintf(&b, "\n      %s at %s", se.Reason, se.FieldPath)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func clip(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "..."
	}
	return string(b)
}

// Transport checks every exchange with the API that goes through it and
// reports each mismatch; other requests pass untouched.
func (s *Spec) Transport(report func(error), base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		if !Covers(req.URL.Path) {
			return base.RoundTrip(req)
		}
		var reqBody []byte
		if req.Body != nil {
			var err error
			if reqBody, err = io.ReadAll(req.Body); err != nil {
				return nil, err
			}
			req.Body.Close()
			req.Body = io.NopCloser(bytes.NewReader(reqBody))
		}
		resp, err := base.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		respBody, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		resp.Body = io.NopCloser(bytes.NewReader(respBody))
		if err := s.Check(req, reqBody, resp, respBody); err != nil {
			report(err)
		}
		return resp, nil
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
