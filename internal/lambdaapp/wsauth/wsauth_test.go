package wsauth

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/songqueue/songqueue/internal/auth"
	"github.com/songqueue/songqueue/internal/generation"
)

const methodARN = "arn:aws:execute-api:eu-west-1:123456789012:abc123/prod/$connect"

func request(query map[string]string, headers map[string]string) events.APIGatewayCustomAuthorizerRequestTypeRequest {
	return events.APIGatewayCustomAuthorizerRequestTypeRequest{Type: "REQUEST", MethodArn: methodARN, QueryStringParameters: query, Headers: headers}
}

func TestHandler(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	v := auth.HS256{Secret: []byte("s3cret"), Now: func() time.Time { return now }}
	good, err := v.Mint("u-1", generation.Premium, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	h := Handler(v, nil)
	ctx := context.Background()

	res, err := h(ctx, request(map[string]string{"token": good}, nil))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(res)
	want := `{"principalId":"u-1","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":["execute-api:Invoke"],"Effect":"Allow","Resource":["` + methodARN + `"]}]},"context":{"exp":1800000060,"tier":"PREMIUM","userId":"u-1"}}`
	if string(b) != want {
		t.Fatalf("allow =\n%s\nwant\n%s", b, want)
	}

	res, err = h(ctx, request(nil, map[string]string{"authorization": "Bearer " + good}))
	if err != nil || res.PolicyDocument.Statement[0].Effect != "Allow" {
		t.Fatalf("header token: %+v %v", res, err)
	}

	other, _ := auth.HS256{Secret: []byte("other")}.Mint("u-1", generation.Enterprise, time.Minute)
	res, err = h(ctx, request(map[string]string{"token": other}, nil))
	if err != nil || res.PolicyDocument.Statement[0].Effect != "Deny" || res.Context != nil || res.PrincipalID != "anonymous" {
		t.Fatalf("bad token: %+v %v", res, err)
	}

	if _, err := h(ctx, request(map[string]string{"token": " "}, map[string]string{"Authorization": "Basic x"})); !errors.Is(err, ErrUnauthorized) || err.Error() != "Unauthorized" {
		t.Fatalf("no token: %v", err)
	}
}
