package apigw_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/songqueue/songqueue/internal/apigw"
	"github.com/songqueue/songqueue/internal/awsinfra"
	"github.com/songqueue/songqueue/internal/awstest"
	"github.com/songqueue/songqueue/internal/porttest"
	"github.com/songqueue/songqueue/internal/service"
)

func TestMain(m *testing.M) { awstest.Main(m) }

type harness struct {
	api *awstest.ManagementAPI
	n   *apigw.Notifier
}

var ids atomic.Int64

func (h harness) Notifier() service.Notifier { return h.n }

func (h harness) Open(t *testing.T) string {
	id := fmt.Sprintf("conn%d=", ids.Add(1)) // API Gateway ids end in '='
	h.api.Open(id)
	return id
}

func (h harness) Close(t *testing.T, id string) { h.api.Close(id) }

func (h harness) Received(t *testing.T, id string) [][]byte { return h.api.Received(id) }

// TestNotifierContract runs the notifier over the SDK's real signing,
// serialisation and error decoding against a loopback emulation of the
// management API that, unlike moto's, knows Gone connections.
func TestNotifierContract(t *testing.T) {
	porttest.Notifier(t, func(t *testing.T) porttest.NotifierHarness {
		cfg, err := awsinfra.EmulatorConfig(context.Background(), "http://127.0.0.1:1") // credentials and region only
		if err != nil {
			t.Fatal(err)
		}
		api := awstest.NewManagementAPI(t)
		return harness{api: api, n: apigw.New(cfg, api.Endpoint())}
	})
}

// TestPostOnMoto posts through moto's management API, which accepts any
// connection id.
func TestPostOnMoto(t *testing.T) {
	cfg := awstest.Config(t)
	n := apigw.New(cfg, awstest.Endpoint(t))
	if err := n.Post(context.Background(), "abc123=", []byte(`{"event":"pong"}`)); err != nil {
		t.Fatalf("PostToConnection on moto: %v", err)
	}
}

func TestOtherErrorsAreNotGone(t *testing.T) {
	cfg, err := awsinfra.EmulatorConfig(context.Background(), "http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	cfg.RetryMaxAttempts = 1
	err = apigw.New(cfg, "http://127.0.0.1:1").Post(context.Background(), "x", []byte("{}"))
	if err == nil || errors.Is(err, service.ErrGone) {
		t.Fatalf("Post to an unreachable endpoint = %v, want an error that is not ErrGone", err)
	}
}
