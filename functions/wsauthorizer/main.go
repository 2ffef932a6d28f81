// Command wsauthorizer is the REQUEST authorizer of the WebSocket API's
// $connect route: it verifies the token in the query string.
package main

import (
	"errors"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/songqueue/songqueue/internal/auth"
	"github.com/songqueue/songqueue/internal/lambdaapp/wsauth"
	"github.com/songqueue/songqueue/internal/logging"
)

func main() {
	level, lerr := logging.LevelFromEnv(os.Getenv)
	log := logging.New(os.Stdout, logging.JSON, level)
	settings, err := auth.SettingsFromEnv(os.Getenv)
	err = errors.Join(lerr, err)
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
