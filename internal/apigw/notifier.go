// Package apigw is the notifier on API Gateway's WebSocket management API:
// PostToConnection delivers an event to one connection, and a 410 Gone
// answer becomes service.ErrGone so the service forgets that connection.
package apigw

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/songqueue/songqueue/internal/service"
)

// Notifier posts to the connections of one WebSocket API stage.
type Notifier struct {
	client *apigatewaymanagementapi.Client
}

var _ service.Notifier = (*Notifier)(nil)

// New returns a notifier on the management API at endpoint, for example
// "https://abc123.execute-api.eu-west-1.amazonaws.com/prod" (configuration,
// from the template). cfg supplies credentials, region and retries.
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

// Close ends a connection (DeleteConnection), as for one whose token has
// expired.
func (n *Notifier) Close(ctx context.Context, connectionID string) error {
	_, err := n.client.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(connectionID)})
	var gone *types.GoneException
	var re *smithyhttp.ResponseError
	if errors.As(err, &gone) || (errors.As(err, &re) && re.HTTPStatusCode() == http.StatusGone) {
		return fmt.Errorf("close %s: %w", connectionID, service.ErrGone)
	}
	if err != nil {
		return fmt.Errorf("close %s: %w", connectionID, err)
	}
	return nil
}
