package awssecrets

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
	if _, err := r.SecretString(ctx, "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf"); err == nil {
		t.Fatal("a missing secret was read")
	}
	if _, err := r.Parameter(ctx, "/songqueue/missing"); err == nil {
		t.Fatal("a missing parameter was read")
	}
}
