package service

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// CallbackSigner signs the callback URLs the worker gives Suno, and checks
// the ones Suno calls, so that only Suno, which was given the URL, can
// report on a generation.
//
// A URL is good for one attempt of one generation, and until a time: its
// sig parameter is "<attempt>.<expiry, Unix seconds>.<HMAC>", the HMAC
// (SHA-256, truncated to 128 bits) covering the generation id, the attempt
// and the expiry. A leaked URL can then prompt at most look-ups of that
// attempt's task, and only while the attempt can still be running; a URL
// of an attempt that is over, or one that has expired, is answered without
// a look-up.
type CallbackSigner struct {
	// Key signs; it is read when first needed, so a function whose secret
	// lives in Secrets Manager starts without waiting for it.
	Key Key
	// BaseURL is the public base URL Suno calls back; empty means no
	// callbacks, polling only.
	BaseURL string
}

// callbackGrace is how long after the latest end of its attempt a
// callback URL still works: Suno's late or repeated callbacks. After it,
// the attempt's poll job (or the sweeper) finishes the song.
const callbackGrace = 15 * time.Minute

// callbackExpiry is when the callback URL of an attempt submitted at now
// expires: after the claim's lease and Suno's time for the attempt
// (Config.Deadline), and a grace.
func callbackExpiry(cfg Config, now time.Time) time.Time {
	return now.Add(cfg.ClaimLease + cfg.Deadline + callbackGrace).Truncate(time.Second)
}

// Signature is the sig parameter of the callback URL of attempt of
// generation id, good until expires.
func (s CallbackSigner) Signature(ctx context.Context, id string, attempt int, expires time.Time) (string, error) {
	key, err := s.key(ctx)
	if err != nil {
		return "", err
	}
	return signature(key, id, attempt, expires.Unix()), nil
}

func (s CallbackSigner) key(ctx context.Context) ([]byte, error) {
	if s.Key == nil {
		return nil, fmt.Errorf("callback signing key: %w", errNoCallbackKey)
	}
	key, err := s.Key(ctx)
	if err != nil {
		return nil, fmt.Errorf("callback signing key: %w", err)
	}
	return key, nil
}

func signature(key []byte, id string, attempt int, expires int64) string {
	return strconv.Itoa(attempt) + "." + strconv.FormatInt(expires, 10) + "." + mac(key, id, attempt, expires)
}

// mac is the HMAC of a callback URL. The id is length-prefixed, so no
// two (id, attempt, expiry) share an input.
func mac(key []byte, id string, attempt int, expires int64) string {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "songqueue callback v2 %d:%s %d %d", len(id), id, attempt, expires)
	return hex.EncodeToString(m.Sum(nil))[:32]
}

// urls reads the key and returns what makes callback URLs with it ("" for
// every URL when there are no callbacks), so that a worker learns that
// the key cannot be read before it claims an attempt, and signs the URL
// once the attempt is known.
func (s CallbackSigner) urls(ctx context.Context) (func(id string, attempt int, expires time.Time) string, error) {
	if s.BaseURL == "" {
		return func(string, int, time.Time) string { return "" }, nil
	}
	key, err := s.key(ctx)
	if err != nil {
		return nil, err
	}
	base := s.BaseURL
	return func(id string, attempt int, expires time.Time) string {
		q := url.Values{"g": {id}, "sig": {signature(key, id, attempt, expires.Unix())}}
		return base + "/api/suno/callback?" + q.Encode()
	}, nil
}

// Refusals of a callback URL, answered before anything is read or asked.
var (
	errBadCallbackSignature = &Error{Kind: KindForbidden, Code: "invalid_callback_signature",
		Message: "the callback URL's signature is not one this service issued for this generation"}
	errCallbackExpired = &Error{Kind: KindForbidden, Code: "callback_expired",
		Message: "the callback URL has expired; the song is finished by polling Suno"}
)

// maxAttempt bounds the attempt a signature may name.
const maxAttempt = 1000

// verify checks sig against generation id at now and returns the attempt
// it was issued for. A signature that is malformed or does not match is
// errBadCallbackSignature, a genuine one past its expiry
// errCallbackExpired; an error of another kind is the key's.
func (s CallbackSigner) verify(ctx context.Context, id, sig string, now time.Time) (int, error) {
	parts := strings.Split(sig, ".")
	if len(parts) != 3 || len(parts[2]) != 32 {
		return 0, errBadCallbackSignature
	}
	attempt, err := strconv.Atoi(parts[0])
	if err != nil || attempt < 1 || attempt > maxAttempt || strconv.Itoa(attempt) != parts[0] {
		return 0, errBadCallbackSignature
	}
	expires, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || expires < 1 || strconv.FormatInt(expires, 10) != parts[1] {
		return 0, errBadCallbackSignature
	}
	key, err := s.key(ctx)
	if err != nil {
		return 0, err
	}
	if subtle.ConstantTimeCompare([]byte(parts[2]), []byte(mac(key, id, attempt, expires))) != 1 {
		return 0, errBadCallbackSignature
	}
	if now.Unix() > expires {
		return 0, errCallbackExpired
	}
	return attempt, nil
}
