// Command worker is the function behind the four tier queues: SQS batches
// in, partial batch responses out.
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
	env := lambdaapp.Must(lambdaapp.Load(ctx, app.Options{Secrets: awssecrets.New}))
	lambda.Start(lambdaapp.SQSHandler(env, lambdaapp.Must(app.Worker(ctx, env))))
}
