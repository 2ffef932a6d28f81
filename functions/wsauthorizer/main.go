// Command wsauthorizer is the REQUEST authorizer of the WebSocket API's
// $connect route: it verifies the token in the query string.
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/songqueue/songqueue/internal/auth"
	"github.com/songqueue/songqueue/internal/lambdaapp/wsauth"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	settings, err := auth.SettingsFromEnv(os.Getenv)
	var v auth.Verifier
	if err == nil {
		v, err = settings.Verifier(log)
	}
	if err != nil {
		log.Error("function init failed", "err", err)
		os.Exit(1)
	}
	lambda.Start(wsauth.Handler(v, log))
}
