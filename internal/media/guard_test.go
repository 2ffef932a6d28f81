package media_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/songqueue/songqueue/internal/media"
)

// countingServer serves a song and counts the requests it gets.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", "audio/wav")
		_, _ = w.Write(wav(1000))
	}))
	t.Cleanup(s.Close)
	return s, &n
}

// resolver answers from names, and fails the test for any other name.
func resolver(t *testing.T, names map[string][]string) func(context.Context, string) ([]netip.Addr, error) {
	return func(_ context.Context, host string) ([]netip.Addr, error) {
		addrs, ok := names[host]
		if !ok {
			t.Errorf("resolved %q, which the test does not know", host)
			return nil, fmt.Errorf("no such host %s", host)
		}
		var out []netip.Addr
		for _, a := range addrs {
			out = append(out, netip.MustParseAddr(a))
		}
		return out, nil
	}
}

func mustRefuse(t *testing.T, f media.Fetcher, url string, want ...string) {
	t.Helper()
	got, err := f.Fetch(context.Background(), url, media.Audio)
	if err == nil {
		got.Close()
		t.Errorf("Fetch(%s) succeeded; want it refused", url)
		return
	}
	var fe *media.Error
	if !errors.As(err, &fe) || !fe.Permanent {
		t.Errorf("Fetch(%s) = %v; want a permanent media.Error", url, err)
		return
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Fetch(%s) = %v; want it to say %q", url, err, w)
		}
	}
}

// TestFetchOnlyOverHTTPS: in production configuration a song is fetched
// over https only; plain http is refused before anything is dialled. The
// local stack's exception (AllowLoopback) covers http to a loopback host,
// and no other.
func TestFetchOnlyOverHTTPS(t *testing.T) {
	s, hits := countingServer(t)
	strict := media.Fetcher{Dir: t.TempDir(), Timeout: 5 * time.Second}
	mustRefuse(t, strict, s.URL+"/song.wav", "plain http", "https only")
	mustRefuse(t, strict, "ftp://cdn.suno.test/song.wav", "https only")
	mustRefuse(t, strict, "https://user:pw@cdn.suno.test/song.wav", "credentials")

	local := media.WithResolver(media.Fetcher{Dir: t.TempDir(), Timeout: 5 * time.Second, AllowLoopback: true},
		resolver(t, map[string][]string{}))
	mustRefuse(t, local, "http://cdn.suno.test/song.wav", "plain http")
	if hits.Load() != 0 {
		t.Fatalf("the server got %d requests; refused URLs must not be fetched", hits.Load())
	}

	// The local stack's fake serves from this machine over http.
	for _, u := range []string{s.URL + "/song.wav", strings.Replace(s.URL, "127.0.0.1", "localhost", 1) + "/song.wav"} {
		f, err := media.Fetcher{Dir: t.TempDir(), Timeout: 5 * time.Second, AllowLoopback: true}.Fetch(context.Background(), u, media.Audio)
		if err != nil {
			t.Fatalf("AllowLoopback, Fetch(%s): %v", u, err)
		}
		f.Close()
	}
}

// TestFetchRefusesNonPublicAddresses: a name that resolves to this
// machine, the instance metadata service, a private network, or any other
// address no public CDN has is refused with an error that says so, and
// nothing is dialled. AllowLoopback admits loopback names at loopback
// addresses only: private and link-local addresses stay refused, and a
// public-looking name that resolves to 127.0.0.1 too.
func TestFetchRefusesNonPublicAddresses(t *testing.T) {
	names := map[string][]string{
		"loop.suno.test":     {"127.0.0.1"},
		"loop6.suno.test":    {"::1"},
		"metadata.suno.test": {"169.254.169.254"},
		"imds6.suno.test":    {"fd00:ec2::254"},
		"ten.suno.test":      {"10.1.2.3"},
		"172.suno.test":      {"172.16.5.4"},
		"home.suno.test":     {"192.168.1.1"},
		"ula.suno.test":      {"fd12:3456::1"},
		"ll6.suno.test":      {"fe80::1"},
		"zero.suno.test":     {"0.0.0.0"},
		"mcast.suno.test":    {"224.0.0.251"},
		"mapped.suno.test":   {"::ffff:10.0.0.1"},
		"nat64.suno.test":    {"64:ff9b::a9fe:a9fe"},
		"cgnat.suno.test":    {"100.64.0.1"},
		"mixed.suno.test":    {"93.184.215.14", "10.0.0.7"},
		"localhost":          {"127.0.0.1"},
		"evil.localhost":     {"10.0.0.2"},
	}
	want := map[string]string{
		"loop.suno.test": "127.0.0.1, a loopback", "loop6.suno.test": "::1, a loopback",
		"metadata.suno.test": "169.254.169.254, a link-local", "imds6.suno.test": "fd00:ec2::254, a private",
		"ten.suno.test": "10.1.2.3, a private", "172.suno.test": "172.16.5.4, a private", "home.suno.test": "192.168.1.1, a private",
		"ula.suno.test": "a private", "ll6.suno.test": "fe80::1, a link-local", "zero.suno.test": "0.0.0.0, an unspecified",
		"mcast.suno.test": "a multicast", "mapped.suno.test": "10.0.0.1, a private", "nat64.suno.test": "a link-local",
		"cgnat.suno.test": "a reserved", "mixed.suno.test": "10.0.0.7, a private",
	}
	for _, allow := range []bool{false, true} {
		f := media.WithResolver(media.Fetcher{Dir: t.TempDir(), Timeout: 5 * time.Second, AllowLoopback: allow}, resolver(t, names))
		for name, w := range want {
			// With AllowLoopback too: only a loopback name is dialled at a
			// loopback address.
			mustRefuse(t, f, "https://"+name+"/song.mp3", name+" resolves to", w, "public addresses only")
		}
		// Addresses written into the URL are checked alike, without a look-up.
		for lit, w := range map[string]string{
			"169.254.169.254": "link-local", "10.0.0.1": "private", "[fe80::1]": "link-local", "[fd00:ec2::254]": "private",
			"0.0.0.0": "unspecified", "255.255.255.255": "reserved",
		} {
			mustRefuse(t, f, "https://"+lit+"/latest/meta-data/", w)
		}
		if !allow {
			mustRefuse(t, f, "https://127.0.0.1/song.mp3", "loopback")
			mustRefuse(t, f, "https://[::1]/song.mp3", "loopback")
			mustRefuse(t, f, "https://localhost/song.mp3", "localhost resolves to 127.0.0.1, a loopback address")
		}
		// A loopback name is dialled at loopback addresses only, whatever
		// it resolves to.
		mustRefuse(t, f, "https://evil.localhost/song.mp3", "10.0.0.2")
	}
}

// TestFetchFollowsNoRedirect: a media host that redirects, to this
// machine, the metadata service or a private address, is not followed:
// the target gets no request.
func TestFetchFollowsNoRedirect(t *testing.T) {
	target, hits := countingServer(t)
	for _, to := range []string{target.URL + "/song.wav", "http://169.254.169.254/latest/meta-data/", "https://10.0.0.1/song.wav"} {
		s := httptest.NewServer(http.RedirectHandler(to, http.StatusFound))
		f := media.Fetcher{Dir: t.TempDir(), Timeout: 5 * time.Second, AllowLoopback: true}
		mustRefuse(t, f, s.URL+"/song.wav", "redirected", to)
		s.Close()
	}
	if hits.Load() != 0 {
		t.Fatalf("a redirect was followed: the target got %d requests", hits.Load())
	}
}

func TestAnyLoopback(t *testing.T) {
	for hosts, want := range map[string]bool{
		"musicfile.api.box,cdn1.suno.ai": false,
		"127.0.0.1:3001":                 true,
		"localhost:3001":                 true,
		"[::1]:8080":                     true,
		"cdn1.suno.ai,127.0.0.1:4000":    true,
		"127.example.com,10.0.0.1":       false,
	} {
		if got := media.AnyLoopback(strings.Split(hosts, ",")); got != want {
			t.Errorf("AnyLoopback(%s) = %v, want %v", hosts, got, want)
		}
	}
}
