// Command sweeper runs on a schedule and moves on the generations stuck
// past their deadline: requeued, retried or failed.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/songqueue/songqueue/internal/app"
	"github.com/songqueue/songqueue/internal/lambdaapp"
	"github.com/songqueue/songqueue/internal/lambdaapp/awssecrets"
)

func main() {
	a := lambdaapp.Must(lambdaapp.Load(context.Background(), app.RoleSweeper, app.Options{Secrets: awssecrets.New}))
	lambda.Start(lambdaapp.SweepHandler(a))
}
