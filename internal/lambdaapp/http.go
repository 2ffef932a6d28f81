package lambdaapp

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/songqueue/songqueue/internal/auth"
	"github.com/songqueue/songqueue/internal/httpapi"
	"github.com/songqueue/songqueue/internal/logging"
)

// HTTPHandler adapts API Gateway HTTP API events (payload format 2.0) to h.
// The claims API Gateway's JWT authorizer verified
// (requestContext.authorizer.jwt.claims) become the request's caller
// through httpapi.WithCaller, so h should authenticate with
// httpapi.ContextAuth; a request without them has no caller and gets 401.
func HTTPHandler(h http.Handler, tierClaim string, log *slog.Logger) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	if log == nil {
		log = slog.Default()
	}
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		// API Gateway's request id: the one its access log and the
		// apigw-requestid response header show.
		if id := ev.RequestContext.RequestID; id != "" {
			ctx = logging.WithRequestID(ctx, id)
		} else {
			ctx = invocation(ctx)
		}
		if c := ev.RequestContext.Authorizer; c != nil && c.JWT != nil && len(c.JWT.Claims) > 0 {
			claims := make(map[string]any, len(c.JWT.Claims))
			for k, v := range c.JWT.Claims {
				claims[k] = v
			}
			caller, err := auth.CallerFromClaims(claims, tierClaim)
			if err != nil {
				// The authorizer accepted a token the service cannot use
				// (no sub, unknown tier): no caller, so the API answers 401.
				log.WarnContext(ctx, "verified token refused", "err", err)
			} else {
				ctx = httpapi.WithCaller(ctx, caller)
			}
		}
		req, err := NewHTTPRequest(ctx, ev)
		if err != nil {
			return textResponse(http.StatusBadRequest, `{"error":{"code":"bad_request","message":"the request could not be read"}}`), nil
		}
		w := newResponseWriter()
		h.ServeHTTP(w, req)
		return w.response(), nil
	}
}

// NewHTTPRequest turns an HTTP API event into the request it carried.
func NewHTTPRequest(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	method := ev.RequestContext.HTTP.Method
	if method == "" {
		method = http.MethodGet
	}
	path := ev.RawPath
	if path == "" {
		path = ev.RequestContext.HTTP.Path
	}
	// A named stage (not $default) prefixes the raw path with its name.
	if st := ev.RequestContext.Stage; st != "" && st != "$default" && strings.HasPrefix(path, "/"+st+"/") {
		path = strings.TrimPrefix(path, "/"+st)
	}
	if path == "" {
		path = "/"
	}
	target := path
	if ev.RawQueryString != "" {
		target += "?" + ev.RawQueryString
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil, fmt.Errorf("request target %q: %w", target, err)
	}

	var body []byte
	if ev.IsBase64Encoded {
		if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
			return nil, fmt.Errorf("base64 body: %w", err)
		}
	} else {
		body = []byte(ev.Body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.URL, req.RequestURI = u, target
	// Payload 2.0 joins repeated headers with commas, which is how HTTP
	// combines them too; a reader of the header sees what the client sent.
	for k, v := range ev.Headers {
		req.Header.Set(k, v)
	}
	if len(ev.Cookies) > 0 {
		req.Header.Set("Cookie", strings.Join(ev.Cookies, "; "))
	}
	req.Host = ev.RequestContext.DomainName
	if h := req.Header.Get("Host"); h != "" {
		req.Host = h
	}
	req.ContentLength = int64(len(body))
	req.RemoteAddr = ev.RequestContext.HTTP.SourceIP
	if ev.RequestContext.HTTP.Protocol != "" {
		if major, minor, ok := http.ParseHTTPVersion(ev.RequestContext.HTTP.Protocol); ok {
			req.Proto, req.ProtoMajor, req.ProtoMinor = ev.RequestContext.HTTP.Protocol, major, minor
		}
	}
	return req, nil
}

// responseWriter records a handler's answer.
type responseWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newResponseWriter() *responseWriter { return &responseWriter{header: http.Header{}} }

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *responseWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

// response is the payload 2.0 answer: single headers as they are, repeated
// ones joined with commas (the format has no multi-value headers), cookies
// in their own list, and a body that is not text in base64.
func (w *responseWriter) response() events.APIGatewayV2HTTPResponse {
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	res := events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: map[string]string{}}
	for k, vs := range w.header {
		if http.CanonicalHeaderKey(k) == "Set-Cookie" {
			res.Cookies = append(res.Cookies, vs...)
			continue
		}
		res.Headers[k] = strings.Join(vs, ", ")
	}
	b := w.body.Bytes()
	if isText(w.header.Get("Content-Type")) && utf8.Valid(b) {
		res.Body = string(b)
	} else {
		res.Body = base64.StdEncoding.EncodeToString(b)
		res.IsBase64Encoded = true
	}
	return res
}

func isText(contentType string) bool {
	if contentType == "" {
		return true // nothing declared: API Gateway passes it as text
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return strings.HasPrefix(mt, "text/") || mt == "application/json" || strings.HasSuffix(mt, "+json") ||
		mt == "application/xml" || strings.HasSuffix(mt, "+xml") || mt == "application/javascript" ||
		mt == "application/x-www-form-urlencoded"
}

func textResponse(status int, body string) events.APIGatewayV2HTTPResponse {
	return events.APIGatewayV2HTTPResponse{StatusCode: status, Headers: map[string]string{"Content-Type": "application/json; charset=utf-8"}, Body: body}
}
