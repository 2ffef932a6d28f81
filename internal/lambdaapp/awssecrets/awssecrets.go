// Package awssecrets reads the functions' secrets from AWS Secrets Manager
// and SSM Parameter Store. Only the functions that read a secret (worker,
// sweeper, callback) link it in.
package awssecrets

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/songqueue/songqueue/internal/lambdaapp"
)

// Reader reads secrets through a Secrets Manager and an SSM client.
type Reader struct {
	sm  *secretsmanager.Client
	ssm *ssm.Client
}

// New is a lambdaapp.Options.Secrets: a reader on cfg.
func New(cfg aws.Config) lambdaapp.SecretReader {
	return &Reader{sm: secretsmanager.NewFromConfig(cfg), ssm: ssm.NewFromConfig(cfg)}
}

// SecretString implements lambdaapp.SecretReader with GetSecretValue of
// the secret's current version.
func (r *Reader) SecretString(ctx context.Context, secretID string) (string, error) {
	out, err := r.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(secretID)})
	if err != nil {
		return "", err
	}
	if out.SecretString == nil {
		return "", errors.New("the secret has a binary value; store the key as a string")
	}
	return *out.SecretString, nil
}

// Parameter implements lambdaapp.SecretReader with GetParameter, decrypting
// a SecureString.
func (r *Reader) Parameter(ctx context.Context, name string) (string, error) {
	out, err := r.ssm.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
	if err != nil {
		return "", err
	}
	if out.Parameter == nil || out.Parameter.Value == nil {
		return "", errors.New("the parameter has no value")
	}
	return *out.Parameter.Value, nil
}
