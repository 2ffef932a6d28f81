package awssecrets

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/songqueue/songqueue/internal/awstest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

func unique() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func TestReaderOnMoto(t *testing.T) {
	cfg := awstest.Config(t)
	ctx := context.Background()
	sm, ps := secretsmanager.NewFromConfig(cfg), ssm.NewFromConfig(cfg)
	name := "songqueue-test-" + unique()
	sec, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String("suno-key-1")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = sm.DeleteSecret(context.Background(), &secretsmanager.DeleteSecretInput{SecretId: sec.ARN, ForceDeleteWithoutRecovery: aws.Bool(true)})
	})
	param := "/songqueue/test/" + unique()
	if _, err := ps.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(param), Value: aws.String("suno-key-2"), Type: ssmtypes.ParameterTypeSecureString}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = ps.DeleteParameter(context.Background(), &ssm.DeleteParameterInput{Name: aws.String(param)})
	})

	r := New(cfg)
	if v, err := r.SecretString(ctx, aws.ToString(sec.ARN)); err != nil || v != "suno-key-1" {
		t.Fatalf("secret by ARN = %q, %v", v, err)
	}
	if v, err := r.Parameter(ctx, param); err != nil || v != "suno-key-2" {
		t.Fatalf("parameter = %q, %v", v, err)
	}
	if _, err := r.SecretString(ctx, "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf"); err == nil || !strings.Contains(err.Error(), "ResourceNotFoundException") {
		t.Fatalf("a missing secret: %v", err)
	}
	if _, err := r.Parameter(ctx, "/songqueue/missing"); err == nil || !strings.Contains(err.Error(), "ParameterNotFound") {
		t.Fatalf("a missing parameter: %v", err)
	}
}

// TestEndpointAsTheSDKChoosesIt: a service's own variable, then the base
// endpoint, then the regional one.
func TestEndpointAsTheSDKChoosesIt(t *testing.T) {
	env := map[string]string{}
	r := &Reader{cfg: aws.Config{Region: "eu-west-1"}, getenv: func(k string) string { return env[k] }}
	check := func(s service, want string) {
		t.Helper()
		if got, err := r.endpoint(s); err != nil || got != want {
			t.Errorf("%s endpoint = %q, %v; want %q", s.signingName, got, err, want)
		}
	}
	check(secretsManager, "https://secretsmanager.eu-west-1.amazonaws.com")
	check(ssmAPI, "https://ssm.eu-west-1.amazonaws.com")
	r.cfg.BaseEndpoint = aws.String("http://127.0.0.1:4566")
	check(ssmAPI, "http://127.0.0.1:4566")
	env["AWS_ENDPOINT_URL_SSM"] = "http://127.0.0.1:5000"
	check(ssmAPI, "http://127.0.0.1:5000")
	check(secretsManager, "http://127.0.0.1:4566")
	env["AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"] = "true"
	check(ssmAPI, "http://127.0.0.1:4566")
	r.cfg = aws.Config{Region: "cn-north-1"}
	check(ssmAPI, "https://ssm.cn-north-1.amazonaws.com.cn")
}
