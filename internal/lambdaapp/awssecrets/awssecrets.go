// Package awssecrets reads the functions' secrets from AWS Secrets Manager
// and SSM Parameter Store. Only the functions that read a secret (worker,
// sweeper, callback; the API and WebSocket functions for
// SUNO_API_KEYS_SECRET_ARN, to count the accounts) link it in.
//
// It makes the two calls it needs (GetSecretValue, GetParameter) itself,
// signed with the SDK's Signature V4 signer, rather than through the SDK's
// service clients: their packages cost about 5 ms of package
// initialisation (SSM's alone allocates 1.4 MB at init), which every cold
// start of these functions would pay for two requests that at most the
// first invocation makes. Both services speak the same AWS JSON 1.1
// protocol; the endpoint is chosen as the SDK chooses it.
package awssecrets

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/songqueue/songqueue/internal/app"
)

// Reader reads secrets with the credentials and region of an AWS
// configuration.
type Reader struct {
	cfg    aws.Config
	signer *v4.Signer
	getenv func(string) string
}

var _ app.SecretReader = (*Reader)(nil)

// New is an app.Options.Secrets: a reader on cfg.
func New(cfg aws.Config) app.SecretReader {
	return &Reader{cfg: cfg, signer: v4.NewSigner(), getenv: os.Getenv}
}

// service is one of the two APIs, as the SDK names it.
type service struct {
	signingName string // in the signature's scope, and the endpoint's host
	envID       string // AWS_ENDPOINT_URL_<envID>
	target      string // X-Amz-Target prefix
}

var (
	secretsManager = service{signingName: "secretsmanager", envID: "SECRETS_MANAGER", target: "secretsmanager"}
	ssmAPI         = service{signingName: "ssm", envID: "SSM", target: "AmazonSSM"}
)

// SecretString implements app.SecretReader with GetSecretValue of the
// secret's current version.
func (r *Reader) SecretString(ctx context.Context, secretID string) (string, error) {
	var out struct {
		SecretString *string
	}
	if err := r.call(ctx, secretsManager, "GetSecretValue", map[string]any{"SecretId": secretID}, &out); err != nil {
		return "", err
	}
	if out.SecretString == nil {
		return "", errors.New("the secret has a binary value; store the key as a string")
	}
	return *out.SecretString, nil
}

// Parameter implements app.SecretReader with GetParameter, decrypting a
// SecureString.
func (r *Reader) Parameter(ctx context.Context, name string) (string, error) {
	var out struct {
		Parameter *struct{ Value *string }
	}
	if err := r.call(ctx, ssmAPI, "GetParameter", map[string]any{"Name": name, "WithDecryption": true}, &out); err != nil {
		return "", err
	}
	if out.Parameter == nil || out.Parameter.Value == nil {
		return "", errors.New("the parameter has no value")
	}
	return *out.Parameter.Value, nil
}

// maxAnswer bounds what is read of an answer; a secret is at most 64 KB.
const maxAnswer = 1 << 20

func (r *Reader) call(ctx context.Context, s service, operation string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("%s: %w", operation, err)
	}
	endpoint, err := r.endpoint(s)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: %w", operation, err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", s.target+"."+operation)
	if r.cfg.Credentials == nil {
		return fmt.Errorf("%s: no AWS credentials", operation)
	}
	creds, err := r.cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("%s: credentials: %w", operation, err)
	}
	sum := sha256.Sum256(body)
	if err := r.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), s.signingName, r.cfg.Region, time.Now()); err != nil {
		return fmt.Errorf("%s: sign: %w", operation, err)
	}
	client := r.cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	res, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", operation, err)
	}
	defer res.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("%s: read the answer: %w", operation, err)
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %w", operation, apiError(res.StatusCode, answer))
	}
	if err := json.Unmarshal(answer, out); err != nil {
		return fmt.Errorf("%s: decode the answer: %w", operation, err)
	}
	return nil
}

// endpoint is where the SDK would send s's requests: the service's own
// AWS_ENDPOINT_URL_<SERVICE>, else the configuration's base endpoint
// (AWS_ENDPOINT_URL), else the regional endpoint.
func (r *Reader) endpoint(s service) (string, error) {
	if !strings.EqualFold(r.getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"), "true") {
		if e := strings.TrimSpace(r.getenv("AWS_ENDPOINT_URL_" + s.envID)); e != "" {
			return e, nil
		}
	}
	if r.cfg.BaseEndpoint != nil && *r.cfg.BaseEndpoint != "" {
		return *r.cfg.BaseEndpoint, nil
	}
	if r.cfg.Region == "" {
		return "", fmt.Errorf("%s: no region configured", s.signingName)
	}
	domain := "amazonaws.com"
	if strings.HasPrefix(r.cfg.Region, "cn-") {
		domain = "amazonaws.com.cn"
	}
	return "https://" + s.signingName + "." + r.cfg.Region + "." + domain, nil
}

// apiError is an AWS JSON protocol error: {"__type":"…#Code","message":"…"}.
func apiError(status int, body []byte) error {
	var e struct {
		Type     string `json:"__type"`
		Message  string `json:"message"`
		MessageU string `json:"Message"`
	}
	_ = json.Unmarshal(body, &e)
	code := e.Type
	if i := strings.LastIndexByte(code, '#'); i >= 0 {
		code = code[i+1:]
	}
	if code == "" {
		code = http.StatusText(status)
	}
	msg := e.Message
	if msg == "" {
		msg = e.MessageU
	}
	return fmt.Errorf("HTTP %d %s: %s", status, code, msg)
}
