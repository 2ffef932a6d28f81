// Command api is the HTTP API function: every route of DESIGN.md section 3
// but Suno's callback, behind API Gateway's JWT authorizer.
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/songqueue/songqueue/internal/app"
	"github.com/songqueue/songqueue/internal/lambdaapp"
)

func main() {
	ctx := context.Background()
	env := lambdaapp.Must(lambdaapp.Load(ctx, app.Options{}))
	lambda.Start(lambdaapp.APIHandler(env, lambdaapp.Must(app.API(ctx, env))))
}
