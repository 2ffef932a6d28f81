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
	ctx := context.Background()
	env := lambdaapp.Must(lambdaapp.Load(ctx, app.Options{Secrets: awssecrets.New}))
	lambda.Start(lambdaapp.SweepHandler(env, lambdaapp.Must(app.Sweeper(ctx, env))))
}
