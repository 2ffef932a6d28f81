package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// SecretReader reads secrets from AWS; package awssecrets implements it.
// It is injected so that the functions that read no secret do not carry
// the Secrets Manager and SSM clients (about 1.5 MB of binary).
type SecretReader interface {
	// SecretString returns a Secrets Manager secret's string value.
	SecretString(ctx context.Context, secretID string) (string, error)
	// Parameter returns an SSM parameter's value, decrypted.
	Parameter(ctx context.Context, name string) (string, error)
}

// minCallbackSecret is the least length of a callback signing key.
const minCallbackSecret = 16

// secret is a secret read when first needed and then kept for the life of
// the process (a Lambda execution environment): reading it at init would
// add a Secrets Manager round trip to every cold start, including those
// whose invocations never need it. A failed read is not kept, so the next
// use tries again.
type secret struct {
	ref       SecretRef
	newReader func() SecretReader
	minLen    int
	// oneKey: the value is one Suno key, never a JSON list or object
	// (which SUNO_API_KEYS_SECRET_ARN takes).
	oneKey bool

	mu    sync.Mutex
	value string
}

// newSecret checks at once what can be checked without a request: a
// reference that needs a reader the function was built without, or a
// plain value too short (or, for oneKey, JSON).
func newSecret(ref SecretRef, secrets func(aws.Config) SecretReader, awsCfg func() aws.Config, minLen int, oneKey bool) (*secret, error) {
	if (ref.SecretARN != "" || ref.Parameter != "") && secrets == nil {
		which := ref.Name // SUNO_API_KEY_SECRET_ARNS[2]
		if !strings.Contains(which, "[") {
			which += "_SECRET_ARN"
			if ref.SecretARN == "" {
				which = ref.Name + "_PARAMETER"
			}
		}
		return nil, fmt.Errorf("configuration: %s is set but this function was built without a secret reader", which)
	}
	s := &secret{ref: ref, minLen: minLen, oneKey: oneKey}
	if secrets != nil {
		var once sync.Once
		var r SecretReader
		s.newReader = func() SecretReader {
			once.Do(func() { r = secrets(awsCfg()) })
			return r
		}
	}
	if ref.SecretARN == "" && ref.Parameter == "" {
		v, err := s.check(ref.Value)
		if err != nil {
			return nil, fmt.Errorf("configuration: %w", err)
		}
		s.value = v
	}
	return s, nil
}

// Get returns the secret, reading it on first use.
func (s *secret) Get(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.value != "" {
		return s.value, nil
	}
	v, err := s.read(ctx)
	if err != nil {
		return "", err
	}
	if v, err = s.check(v); err != nil {
		return "", err
	}
	s.value = v
	return v, nil
}

func (s *secret) read(ctx context.Context) (string, error) {
	ref := s.ref
	switch {
	case ref.SecretARN != "":
		v, err := s.newReader().SecretString(ctx, ref.SecretARN)
		if err != nil {
			return "", fmt.Errorf("read %s from Secrets Manager (%s): %w", ref.Name, ref.SecretARN, err)
		}
		return v, nil
	case ref.Parameter != "":
		v, err := s.newReader().Parameter(ctx, ref.Parameter)
		if err != nil {
			return "", fmt.Errorf("read %s from SSM (%s): %w", ref.Name, ref.Parameter, err)
		}
		return v, nil
	}
	return ref.Value, nil
}

func (s *secret) check(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", fmt.Errorf("%s is empty", s.ref.Name)
	}
	if len(v) < s.minLen {
		return "", fmt.Errorf("the %s is %d characters long; use at least %d", strings.ToLower(strings.ReplaceAll(s.ref.Name, "_", " ")), len(v), s.minLen)
	}
	if s.oneKey && (v[0] == '[' || v[0] == '{') {
		return "", fmt.Errorf("%s holds JSON, not one key: several accounts' keys go in SUNO_API_KEYS, in SUNO_API_KEY_SECRET_ARNS (a secret each) or as a JSON list in the secret of SUNO_API_KEYS_SECRET_ARN", s.ref.where())
	}
	return v, nil
}

// where names the variable the value comes from, for messages (never
// the value): SUNO_API_KEY_SECRET_ARN and its secret, an element of
// SUNO_API_KEY_SECRET_ARNS, SUNO_API_KEY_PARAMETER, or the variable itself.
func (r SecretRef) where() string {
	list := strings.Contains(r.Name, "[")
	switch {
	case r.SecretARN != "" && list:
		return fmt.Sprintf("the secret %s (%s)", r.Name, r.SecretARN)
	case r.SecretARN != "":
		return fmt.Sprintf("the secret %s_SECRET_ARN (%s)", r.Name, r.SecretARN)
	case r.Parameter != "":
		return fmt.Sprintf("the parameter %s_PARAMETER (%s)", r.Name, r.Parameter)
	}
	return r.Name
}

// errNoSecret is the answer of a secret that is not configured.
var errNoSecret = errors.New("not configured")
