// Command worker is the function behind the four tier queues: SQS batches
// in, partial batch responses out.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/songqueue/songqueue/internal/lambdaapp"
	"github.com/songqueue/songqueue/internal/lambdaapp/awssecrets"
)

func main() {
	app := lambdaapp.Must(lambdaapp.FromEnv(context.Background(), lambdaapp.RoleWorker, lambdaapp.Options{Secrets: awssecrets.New}))
	lambda.Start(app.SQSHandler())
}
