// Command publisher is the function behind the generations table's
// DynamoDB stream: it puts the domain events (a song created, completed,
// failed, cancelled, retried) on the EventBridge bus, partial batch
// responses out.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/songqueue/songqueue/internal/app"
	"github.com/songqueue/songqueue/internal/lambdaapp"
)

func main() {
	ctx := context.Background()
	// No secret is read here.
	env := lambdaapp.Must(lambdaapp.Load(ctx, app.Options{}))
	lambda.Start(lambdaapp.StreamHandler(env, lambdaapp.Must(app.Publisher(ctx, env))))
}
