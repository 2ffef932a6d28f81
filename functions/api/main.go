// Command api is the HTTP API function: every route of DESIGN.md section 3
// but Suno's callback, behind API Gateway's JWT authorizer.
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
	// The reader is for SUNO_API_KEYS_SECRET_ARN only: a JSON list of Suno
	// keys is read to name the accounts in the operators' view. No other
	// secret is read here.
	env := lambdaapp.Must(lambdaapp.Load(ctx, app.Options{Secrets: awssecrets.New}))
	lambda.Start(lambdaapp.APIHandler(env, lambdaapp.Must(app.API(ctx, env))))
}
