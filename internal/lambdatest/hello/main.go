// Command hello is the smallest aws-lambda-go function, built like the
// project's functions: the baseline their binary size and cold start are
// measured against (make bench).
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(context.Context, map[string]any) (map[string]string, error) {
		return map[string]string{"hello": "world"}, nil
	})
}
