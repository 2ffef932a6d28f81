// Command websocket is the WebSocket API's function for $connect,
// $disconnect and $default, routed by the event's route key.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/songqueue/songqueue/internal/app"
	"github.com/songqueue/songqueue/internal/lambdaapp"
)

func main() {
	ctx := context.Background()
	env := lambdaapp.Must(lambdaapp.Load(ctx, app.Options{}))
	lambda.Start(lambdaapp.WebSocketHandler(env, lambdaapp.Must(app.WebSocket(ctx, env))))
}
