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
	a := lambdaapp.Must(lambdaapp.Load(context.Background(), app.RoleWebSocket, app.Options{}))
	lambda.Start(lambdaapp.WebSocketHandler(a))
}
