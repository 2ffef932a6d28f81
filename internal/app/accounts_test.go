package app

import (
	"context"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

func generationRequest() generation.Request { return generation.Request{Prompt: "x"} }

// keySentBy submits through account acc's client and returns the API key
// it sent.
func (k *keyServer) keySentBy(t *testing.T, acc service.SunoAccount) string {
	t.Helper()
	if _, err := acc.Suno.Submit(context.Background(), generationRequest(), ""); err != nil {
		t.Fatal(err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.last
}

// TestSunoKeySourcesCombine: the lists of accounts add up, in a fixed
// order; the one account's secret or parameter beside a list is refused,
// naming both, rather than one of them silently unused.
func TestSunoKeySourcesCombine(t *testing.T) {
	refused := []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{"SUNO_API_KEY_SECRET_ARN": "arn:a", "SUNO_API_KEY_SECRET_ARNS": "arn:b,arn:c"}, []string{"SUNO_API_KEY_SECRET_ARN names one", "SUNO_API_KEY_SECRET_ARNS several"}},
		{map[string]string{"SUNO_API_KEY_SECRET_ARN": "arn:a", "SUNO_API_KEYS_SECRET_ARN": "arn:list"}, []string{"SUNO_API_KEY_SECRET_ARN names one", "SUNO_API_KEYS_SECRET_ARN several"}},
		{map[string]string{"SUNO_API_KEY_PARAMETER": "/p", "SUNO_API_KEYS": "k1,k2"}, []string{"SUNO_API_KEY_PARAMETER names one", "SUNO_API_KEYS several"}},
		{map[string]string{"SUNO_API_KEY_SECRET_ARN": "arn:a", "SUNO_API_KEYS": "k1", "SUNO_API_KEY_SECRET_ARNS": "arn:b"}, []string{"SUNO_API_KEYS and SUNO_API_KEY_SECRET_ARNS several"}},
	}
	for _, c := range refused {
		_, err := FromEnv(env(c.env))
		for _, w := range c.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%v: err = %v, want it to say %q", c.env, err, w)
			}
		}
		if err != nil && strings.Contains(err.Error(), "k1") {
			t.Errorf("the error quotes a key: %v", err)
		}
	}

	for _, m := range []map[string]string{
		{"SUNO_API_KEY": "k", "SUNO_API_KEYS": "k1,k2"}, // the local stack's fake and exposure check ask for SUNO_API_KEY
		{"SUNO_API_KEYS": "k1", "SUNO_API_KEY_SECRET_ARNS": "arn:b", "SUNO_API_KEYS_SECRET_ARN": "arn:list"},
		{"SUNO_API_KEY_SECRET_ARN": "arn:a", "SUNO_API_KEY": "k"},
	} {
		if _, err := FromEnv(env(m)); err != nil {
			t.Errorf("%v: %v", m, err)
		}
	}
}

// TestParseKeyList: the secret of SUNO_API_KEYS_SECRET_ARN is a JSON list
// of keys or one key as plain text; anything else is refused, saying
// what is wrong without quoting the value.
func TestParseKeyList(t *testing.T) {
	const secret = "s3cr3t-k3y"
	for v, want := range map[string][]string{
		`["` + secret + `-1", " ` + secret + `-2 "]`: {secret + "-1", secret + "-2"},
		" \n[\"" + secret + "\"]\n":                  {secret},
		secret:                                       {secret},
		" " + secret + "\n":                          {secret},
	} {
		got, err := parseKeyList(v)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%q: %q, %v; want %q", v, got, err, want)
		}
	}
	for v, want := range map[string]string{
		"":                                     "empty",
		"  ":                                   "empty",
		`["` + secret + `",`:                   "invalid JSON at byte",
		`["` + secret + `" "` + secret + `2"]`: "invalid JSON at byte",
		`[` + secret + `]`:                     "invalid JSON at byte",
		`[]`:                                   "holds no key",
		`["` + secret + `", 7]`:                "element 2 of the secret's list is not a string",
		`["` + secret + `", " "]`:              "element 2 of the secret's list is empty",
		`["` + secret + `", "x", "` + secret + `"]`: "elements 1 and 3 of the secret's list are the same key",
		`{"key":"` + secret + `"}`:                  "JSON object",
		secret + "," + secret + "2":                 "plain text with a comma",
	} {
		got, err := parseKeyList(v)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %q, %v; want an error saying %q", v, got, err, want)
			continue
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), secret[:1]+"'") {
			t.Errorf("%q: the error quotes the value: %v", v, err)
		}
	}
}

// TestAccountsFromAListSecret: the one secret of SUNO_API_KEYS_SECRET_ARN
// names the accounts of every function that knows them, read once at
// start: the API (the operators' view) and the WebSocket function (sync's
// places in line are estimated at the accounts' combined rate), which read
// no other Suno secret, and the three that call Suno, each account with
// its own key.
func TestAccountsFromAListSecret(t *testing.T) {
	k := newKeyServer(t)
	m := baseEnv()
	maps.Copy(m, map[string]string{
		"SUNO_API_KEYS_SECRET_ARN": "arn:list", "CALLBACK_SECRET_ARN": "arn:cb", "SUNO_BASE_URL": k.URL,
	})
	for _, r := range []role{roleAPI, roleCallback, roleWorker, roleSweeper, roleWebSocket} {
		f := &fakeSecrets{secrets: map[string]string{"arn:list": `["key-a", "key-b", "key-c"]`, "arn:cb": "0123456789abcdef0123"}}
		a, err := fromEnv(t, r, m, f)
		if err != nil {
			t.Fatalf("%s: %v", r, err)
		}
		if got := slices.DeleteFunc(f.snapshot(), func(s string) bool { return s == "secret:arn:cb" }); !slices.Equal(got, []string{"secret:arn:list"}) {
			t.Errorf("%s read %v at init, want the list once", r, got)
		}
		if n := a.env.Pipeline().Line.Accounts; n != 3 {
			t.Errorf("%s estimates places in line for %d accounts, want 3", r, n)
		}
		b, err := a.env.newAWS()
		if err != nil {
			t.Fatal(err)
		}
		breakers, err := a.env.accountBreakers(context.Background(), b.limiter)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, acc := range breakers {
			names = append(names, acc.Name)
		}
		if want := []string{"account-1", "account-2", "account-3"}; !slices.Equal(names, want) {
			t.Errorf("%s: accounts %v, want %v", r, names, want)
		}
		if !r.talksToSuno() {
			continue
		}
		accounts, err := a.env.accounts(context.Background(), b.limiter)
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, acc := range accounts {
			keys = append(keys, k.keySentBy(t, acc))
		}
		if want := []string{"key-a", "key-b", "key-c"}; !slices.Equal(keys, want) {
			t.Errorf("%s: keys sent %v, want %v", r, keys, want)
		}
		if got := slices.DeleteFunc(f.snapshot(), func(s string) bool { return s == "secret:arn:cb" }); len(got) != 1 {
			t.Errorf("%s: the list was read %d times, want once", r, len(got))
		}
	}
}

// TestAccountsFromSecretARNs: SUNO_API_KEY_SECRET_ARNS, a secret of one
// key per account: the API and the WebSocket function count the accounts
// without reading any (they are given the ARNs for their number, not the
// right to read them); the functions that call Suno read each when first
// needed.
func TestAccountsFromSecretARNs(t *testing.T) {
	k := newKeyServer(t)
	m := baseEnv()
	maps.Copy(m, map[string]string{"SUNO_API_KEY_SECRET_ARNS": "arn:one, arn:two", "SUNO_BASE_URL": k.URL})
	for _, r := range []role{roleAPI, roleWebSocket, roleSweeper} {
		f := &fakeSecrets{secrets: map[string]string{"arn:one": "key-1", "arn:two": "key-2\n"}}
		a, err := fromEnv(t, r, m, f)
		if err != nil {
			t.Fatalf("%s: %v", r, err)
		}
		if got := f.snapshot(); len(got) != 0 {
			t.Errorf("%s read %v at init", r, got)
		}
		if n := a.env.Pipeline().Line.Accounts; n != 2 {
			t.Errorf("%s estimates places in line for %d accounts, want 2", r, n)
		}
		b, _ := a.env.newAWS()
		breakers, err := a.env.accountBreakers(context.Background(), b.limiter)
		if err != nil || len(breakers) != 2 || breakers[0].Name != "account-1" || breakers[1].Name != "account-2" {
			t.Errorf("%s: accounts %+v, %v", r, breakers, err)
		}
		if r != roleSweeper {
			continue
		}
		accounts, err := a.env.accounts(context.Background(), b.limiter)
		if err != nil {
			t.Fatal(err)
		}
		if k1, k2 := k.keySentBy(t, accounts[0]), k.keySentBy(t, accounts[1]); k1 != "key-1" || k2 != "key-2" {
			t.Errorf("keys sent %q %q", k1, k2)
		}
	}
}

// TestSunoKeyNeverJSON: a secret of one key that holds JSON (a list meant
// for SUNO_API_KEYS_SECRET_ARN, or the console's key/value object) fails
// its first use, naming the variable and not the value, instead of
// reaching Suno as a key.
func TestSunoKeyNeverJSON(t *testing.T) {
	k := newKeyServer(t)
	for name, c := range map[string]struct {
		env  map[string]string
		want string
	}{
		"secret":     {map[string]string{"SUNO_API_KEY_SECRET_ARN": "arn:json"}, "the secret SUNO_API_KEY_SECRET_ARN (arn:json) holds JSON"},
		"list":       {map[string]string{"SUNO_API_KEY_SECRET_ARNS": "arn:ok,arn:json"}, "the secret SUNO_API_KEY_SECRET_ARNS[2] (arn:json) holds JSON"},
		"parameter":  {map[string]string{"SUNO_API_KEY_PARAMETER": "/json"}, "the parameter SUNO_API_KEY_PARAMETER (/json) holds JSON"},
		"plain list": {map[string]string{"SUNO_API_KEYS": `ok,{"k":"s3cr3t"}`}, "SUNO_API_KEYS[2] holds JSON"},
	} {
		m := baseEnv()
		maps.Copy(m, c.env)
		m["SUNO_BASE_URL"] = k.URL
		f := &fakeSecrets{secrets: map[string]string{"arn:json": `["s3cr3t-1","s3cr3t-2"]`, "arn:ok": "fine"}, params: map[string]string{"/json": `{"key":"s3cr3t"}`}}
		a, err := fromEnv(t, roleSweeper, m, f)
		if err == nil {
			b, _ := a.env.newAWS()
			var accounts []service.SunoAccount
			if accounts, err = a.env.accounts(context.Background(), b.limiter); err == nil {
				_, err = accounts[len(accounts)-1].Suno.Submit(context.Background(), generationRequest(), "")
			}
		}
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("%s: err = %v, want it to say %q and not the value", name, err, c.want)
		}
	}
}
