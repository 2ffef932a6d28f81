package awstest

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestMain(m *testing.M) { Main(m) }

// TestSelfTestRefusesStockMoto: a stock moto_server is refused with the
// reason and the remedy; the project's moto passes, the races included.
func TestSelfTestRefusesStockMoto(t *testing.T) {
	ours := Endpoint(t)
	if err := race(context.Background(), ours); err != nil {
		t.Fatalf("the project's moto fails the races: %v", err)
	}
	stock, err := startMoto(false)
	if err != nil {
		unavailable(t, err)
	}
	defer stock.stop()
	err = SelfTest(stock.url)
	if !errors.Is(err, ErrUnfaithful) || !strings.Contains(err.Error(), "scripts/moto.sh") {
		t.Fatalf("stock moto: %v; want it refused, pointing at scripts/moto.sh", err)
	}
}
