// Package apigw is the notifier on API Gateway's WebSocket management API:
// PostToConnection delivers an event to one connection, and a 410 Gone
// answer becomes service.ErrGone so the service forgets that connection.
package apigw

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/songqueue/songqueue/internal/service"
)

// Endpoint is the management API endpoint of a WebSocket API stage, from
// the domain name and stage of a request context (event.requestContext
// domainName and stage): https://{domainName}/{stage}. A custom domain
// whose API mapping has its own base path needs that path instead; pass the
// configured endpoint then.
func Endpoint(domainName, stage string) string {
	return "https://" + strings.TrimSuffix(domainName, "/") + "/" + strings.Trim(stage, "/")
}

// Notifier posts to the connections of one WebSocket API stage.
type Notifier struct {
	client *apigatewaymanagementapi.Client
}

var _ service.Notifier = (*Notifier)(nil)

// New returns a notifier on the management API at endpoint, for example
// "https://abc123.execute-api.eu-west-1.amazonaws.com/prod" (configuration,
// or Endpoint of the event). cfg supplies credentials, region and retries.
func New(cfg aws.Config, endpoint string) *Notifier {
	return &Notifier{client: apigatewaymanagementapi.NewFromConfig(cfg, func(o *apigatewaymanagementapi.Options) {
		o.BaseEndpoint = aws.String(endpoint)
	})}
}

// Post implements service.Notifier with one PostToConnection.
func (n *Notifier) Post(ctx context.Context, connectionID string, payload []byte) error {
	_, err := n.client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
		ConnectionId: aws.String(connectionID), Data: payload,
	})
	if err == nil {
		return nil
	}
	var gone *types.GoneException
	var re *smithyhttp.ResponseError
	if errors.As(err, &gone) || (errors.As(err, &re) && re.HTTPStatusCode() == http.StatusGone) {
		return fmt.Errorf("post to %s: %w", connectionID, service.ErrGone)
	}
	return fmt.Errorf("post to %s: %w", connectionID, err)
}

// Notifiers hands out one notifier per endpoint, for a function that learns
// the endpoint from each event; clients are built once and reused.
type Notifiers struct {
	cfg aws.Config
	mu  sync.Mutex
	by  map[string]*Notifier
}

// NewNotifiers returns an empty set on cfg.
func NewNotifiers(cfg aws.Config) *Notifiers {
	return &Notifiers{cfg: cfg, by: map[string]*Notifier{}}
}

// For returns the notifier of endpoint.
func (s *Notifiers) For(endpoint string) *Notifier {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.by[endpoint]
	if !ok {
		n = New(s.cfg, endpoint)
		s.by[endpoint] = n
	}
	return n
}
