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
	a := lambdaapp.Must(lambdaapp.Load(context.Background(), app.RoleWorker, app.Options{Secrets: awssecrets.New}))
	lambda.Start(lambdaapp.SQSHandler(a))
}
