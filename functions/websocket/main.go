// Command websocket is the WebSocket API's function for $connect,
// $disconnect and $default, routed by the event's route key.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/songqueue/songqueue/internal/lambdaapp"
)

func main() {
	app := lambdaapp.Must(lambdaapp.FromEnv(context.Background(), lambdaapp.RoleWebSocket, lambdaapp.Options{}))
	lambda.Start(app.WebSocketHandler())
}
