package lambdaapp

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/songqueue/songqueue/internal/app"
	"github.com/songqueue/songqueue/internal/auth"
	"github.com/songqueue/songqueue/internal/batch"
	"github.com/songqueue/songqueue/internal/httpapi"
	"github.com/songqueue/songqueue/internal/identity"
	"github.com/songqueue/songqueue/internal/logging"
	"github.com/songqueue/songqueue/internal/service"
	"github.com/songqueue/songqueue/internal/throttle"
)

// APIHandler is the HTTP API function: every route of httpapi, its caller
// taken from the claims of API Gateway's JWT authorizer, within the
// limits per caller of the configuration (Config.Requests) on the roles'
// buckets.
func APIHandler(e *app.Env, roles *app.APIRoles) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	settings := e.Config.Auth
	var authn httpapi.Authenticator = httpapi.ContextAuth{}
	if settings.DevSecret != "" {
		e.Log.Warn("DEV_JWT_SECRET is set: requests without JWT authorizer claims are checked as HS256 development tokens (sam local only)")
		authn = devAuth{httpapi.BearerAuth{Verifier: auth.HS256{Secret: []byte(settings.DevSecret), TierClaim: settings.TierClaim}}}
	}
	routes := httpapi.Routes{Songs: roles.Songs, Operators: roles.Operators, Limits: RequestLimits(e, roles.Buckets)}
	return HTTPHandler(httpapi.New(routes, authn, e.Log), settings.TierClaim, e.Log)
}

// RequestLimits are the limits per caller of e's configuration on
// buckets; none without buckets.
func RequestLimits(e *app.Env, buckets throttle.Store) httpapi.Limits {
	if buckets == nil {
		return httpapi.Limits{}
	}
	r := e.Config.Requests
	return httpapi.Limits{Buckets: buckets, User: r.User, IP: r.IP, Callback: r.Callback}
}

// devAuth is for sam local start-api, which has no JWT authorizer: the
// claims API Gateway verified when there are any, else the bearer token
// checked here. In AWS every route but the callback sits behind the JWT
// authorizer, so a request without claims never reaches the function.
type devAuth struct{ bearer httpapi.BearerAuth }

func (d devAuth) Authenticate(r *http.Request) (identity.Caller, error) {
	if c, err := (httpapi.ContextAuth{}).Authenticate(r); err == nil {
		return c, nil
	}
	return d.bearer.Authenticate(r)
}

// invocation puts the Lambda request id in ctx, so that every log line
// and metric of the invocation names it.
func invocation(ctx context.Context) context.Context {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return logging.WithRequestID(ctx, lc.AwsRequestID)
	}
	return ctx
}

// CallbackPath is Suno's callback route.
const CallbackPath = "/api/suno/callback"

// CallbackHandler is the Suno callback function. Its route has no
// authorizer (Suno sends no token; the signed URL is the proof), so the
// function serves that one route and nothing else: any other request,
// whatever it carries, is a 404 here. Each source address's callbacks
// are limited (CALLBACK_RATE_PER_IP) on buckets, beside the route's own
// throttle in template.yaml; nil buckets limit nothing.
func CallbackHandler(e *app.Env, callbacks *service.Callbacks, buckets throttle.Store) func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	api := httpapi.New(httpapi.Routes{Callbacks: callbacks, Limits: RequestLimits(e, buckets)}, httpapi.ContextAuth{}, e.Log)
	mux := http.NewServeMux()
	mux.Handle("POST "+CallbackPath, api)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		_, _ = fmt.Fprintf(w, `{"error":{"code":"route_not_found","message":"this function serves only POST %s"}}`+"\n", CallbackPath)
	})
	// The one route served takes no caller: claims, should a request carry
	// any, change nothing.
	return HTTPHandler(mux, "", e.Log)
}

// SQSHandler is the worker: each record of the batch is one job, run by
// the partial-batch processor (package batch) the local stack runs too.
// The records that must be delivered again are reported as batch item
// failures (the event source mapping has ReportBatchItemFailures), so a
// poisoned message is retried alone and finally lands in the dead-letter
// queue while its neighbours are deleted; a batch of which nothing
// succeeded is a function error, which the function's error alarm counts.
func SQSHandler(e *app.Env, w *service.Worker) func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) {
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		ctx = invocation(ctx)
		records := make([]batch.Record, len(ev.Records))
		for i, r := range ev.Records {
			n, _ := strconv.Atoi(r.Attributes["ApproximateReceiveCount"])
			records[i] = batch.Record{ID: r.MessageId, ReceiptHandle: r.ReceiptHandle, Body: []byte(r.Body), ReceiveCount: n}
		}
		failed, err := batch.Process(ctx, records, w.Handle, e.Log)
		if err != nil {
			return events.SQSEventResponse{}, err
		}
		res := events.SQSEventResponse{BatchItemFailures: make([]events.SQSBatchItemFailure, 0, len(failed))}
		for _, id := range failed {
			res.BatchItemFailures = append(res.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: id})
		}
		return res, nil
	}
}

// SweepHandler is the scheduled sweeper: it moves generations stuck past
// their deadline on (requeue, retry or fail) and answers what it did. A
// sweep that could not even look for work fails the invocation, so the
// function's error alarm sees it; a generation that could not be moved is
// logged and left for the next sweep.
func SweepHandler(e *app.Env, sw *service.Sweeper) func(context.Context, events.EventBridgeEvent) (service.SweepReport, error) {
	return func(ctx context.Context, _ events.EventBridgeEvent) (service.SweepReport, error) {
		ctx = invocation(ctx)
		ctx, cancel := batch.BeforeDeadline(ctx)
		defer cancel()
		r, err := sw.Sweep(ctx)
		if err != nil && r.Overdue == 0 && r.Errors == 0 {
			return r, err
		}
		if err != nil {
			e.Log.ErrorContext(ctx, "sweep left generations for the next run", "report", r, "err", err)
		} else if r.Overdue > 0 {
			e.Log.InfoContext(ctx, "sweep", "report", r)
		}
		return r, nil
	}
}

// WebSocketHandler is the WebSocket function, routing by route key:
// $connect registers the connection of the caller the authorizer admitted
// (its context carries userId and tier), $disconnect forgets it, and every
// other message ($default) is answered through the route response:
// {"action":"ping"} with pong, {"action":"sync"} with the caller's state.
//
// One function serves the three routes because they share everything (the
// connections table, the authorizer's caller) and because a client sends
// sync right after it connects: the instance that served $connect is warm
// for it.
func WebSocketHandler(e *app.Env, rt *service.Realtime) func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	return func(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		ctx = invocation(ctx)
		rc := ev.RequestContext
		switch rc.RouteKey {
		case "$disconnect":
			if err := rt.Disconnect(ctx, rc.ConnectionID); err != nil {
				// The record expires by TTL anyway; the client is gone.
				e.Log.WarnContext(ctx, "disconnect", "connection", rc.ConnectionID, "err", err)
			}
			return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
		case "$connect":
			caller, err := CallerFromAuthorizer(rc.Authorizer)
			if err != nil {
				e.Log.WarnContext(ctx, "connect without an authorized caller", "connection", rc.ConnectionID, "err", err)
				return events.APIGatewayProxyResponse{StatusCode: http.StatusUnauthorized}, nil
			}
			if err := rt.Connect(ctx, caller, rc.ConnectionID); err != nil {
				var se *service.Error
				if errors.As(err, &se) && se.Kind == service.KindQuota {
					e.Log.InfoContext(ctx, "connect refused", "user", caller.UserID, "reason", se.Code)
					return wsReply(http.StatusTooManyRequests, service.Event{Event: service.EventBadAction,
						Data: map[string]string{"code": se.Code, "message": se.Message}}), nil
				}
				e.Log.ErrorContext(ctx, "connect", "connection", rc.ConnectionID, "err", err)
				return events.APIGatewayProxyResponse{StatusCode: http.StatusInternalServerError}, nil
			}
			return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
		}
		caller, err := CallerFromAuthorizer(rc.Authorizer)
		if err != nil {
			e.Log.WarnContext(ctx, "message without an authorized caller", "connection", rc.ConnectionID, "err", err)
			return wsReply(http.StatusUnauthorized, service.Event{Event: service.EventBadAction,
				Data: map[string]string{"code": "unauthorized", "message": "reconnect with ?token=<JWT>"}}), nil
		}
		body := []byte(ev.Body)
		if ev.IsBase64Encoded {
			if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
				body = []byte(ev.Body)
			}
		}
		reply, err := rt.HandleMessage(ctx, caller, rc.ConnectionID, body)
		if err != nil {
			e.Log.ErrorContext(ctx, "message", "connection", rc.ConnectionID, "err", err)
			return wsReply(http.StatusInternalServerError, service.Event{Event: service.EventBadAction,
				Data: map[string]string{"code": "internal", "message": "something went wrong on our side; try again"}}), nil
		}
		return wsReply(http.StatusOK, reply), nil
	}
}

func wsReply(status int, ev service.Event) events.APIGatewayProxyResponse {
	b, err := json.Marshal(ev)
	if err != nil {
		b = []byte(`{"event":"error"}`)
	}
	return events.APIGatewayProxyResponse{StatusCode: status, Body: string(b)}
}

// CallerFromAuthorizer reads the caller from a WebSocket event's
// requestContext.authorizer: API Gateway puts there the context the
// $connect authorizer returned ({userId, tier}), on $connect and on every
// later message of the connection.
func CallerFromAuthorizer(authorizer any) (identity.Caller, error) {
	m, ok := authorizer.(map[string]any)
	if !ok {
		return identity.Caller{}, fmt.Errorf("%w: the event carries no authorizer context", auth.ErrUnauthenticated)
	}
	user, _ := m["userId"].(string)
	claims := map[string]any{"sub": user}
	if t, ok := m["tier"]; ok {
		claims["tier"] = t
	}
	if e, ok := m["exp"]; ok {
		claims["exp"] = e
	}
	return auth.CallerFromClaims(claims, "tier")
}
