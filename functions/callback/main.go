// Command callback is the function behind POST /api/suno/callback, the one
// route without an authorizer: Suno proves itself with the signed URL.
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
	callbacks := lambdaapp.Must(app.Callback(ctx, env))
	// Each address's callbacks are limited on the buckets every instance
	// shares (CALLBACK_RATE_PER_IP).
	lambda.Start(lambdaapp.CallbackHandler(env, callbacks, lambdaapp.Must(app.Buckets(env))))
}
