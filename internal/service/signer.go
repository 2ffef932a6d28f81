package service

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/url"
)

// CallbackSigner signs the callback URLs the worker gives Suno, and checks
// the ones Suno calls, so that only Suno, which was given the URL, can
// report on a generation.
type CallbackSigner struct {
	// Key signs; it is read when first needed, so a function whose secret
	// lives in Secrets Manager starts without waiting for it.
	Key Key
	// BaseURL is the public base URL Suno calls back; empty means no
	// callbacks, polling only.
	BaseURL string
}

// Signature is the signature that proves a callback URL was issued for
// generation id.
func (s CallbackSigner) Signature(ctx context.Context, id string) (string, error) {
	if s.Key == nil {
		return "", fmt.Errorf("callback signing key: %w", errNoCallbackKey)
	}
	key, err := s.Key(ctx)
	if err != nil {
		return "", fmt.Errorf("callback signing key: %w", err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	return hex.EncodeToString(m.Sum(nil))[:32], nil
}

// url is the callback URL of generation id, or "" when there are no
// callbacks.
func (s CallbackSigner) url(ctx context.Context, id string) (string, error) {
	if s.BaseURL == "" {
		return "", nil
	}
	sig, err := s.Signature(ctx, id)
	if err != nil {
		return "", err
	}
	q := url.Values{"g": {id}, "sig": {sig}}
	return s.BaseURL + "/api/suno/callback?" + q.Encode(), nil
}

// verify reports whether sig is generation id's signature.
func (s CallbackSigner) verify(ctx context.Context, id, sig string) (bool, error) {
	want, err := s.Signature(ctx, id)
	if err != nil {
		return false, err
	}
	return len(sig) == len(want) && subtle.ConstantTimeCompare([]byte(sig), []byte(want)) == 1, nil
}
