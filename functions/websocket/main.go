// Command websocket is the WebSocket API's function for $connect,
// $disconnect and $default, routed by the event's route key.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/songqueue/songqueue/internal/app"
	"github.com/songqueue/songqueue/internal/lambdaapp"
	"github.com/songqueue/songqueue/internal/lambdaapp/awssecrets"
)

func main() {
	ctx := context.Background()
	// The reader is for SUNO_API_KEYS_SECRET_ARN only: a JSON list of Suno
	// keys is read to count the accounts (sync's places in line). No other
	// secret is read here.
	env := lambdaapp.Must(lambdaapp.Load(ctx, app.Options{Secrets: awssecrets.New}))
	lambda.Start(lambdaapp.WebSocketHandler(env, lambdaapp.Must(app.WebSocket(ctx, env))))
}
