package devstack_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/songqueue/songqueue/internal/awstest"
	"github.com/songqueue/songqueue/internal/devstack"
	"github.com/songqueue/songqueue/internal/generation"
	"github.com/songqueue/songqueue/internal/service"
)

// oddUserIDs are subs an identity provider may issue and SQS refuses as a
// MessageGroupId: spaces, a slash, letters beyond ASCII, each as long as a
// token's sub may be (128 bytes, internal/auth). The second differs from
// the first only in how its í is written (i and a combining accent), so
// a group id made by normalising or replacing characters would merge them.
func oddUserIDs() (string, string) {
	pad := func(s string) string { return s + strings.Repeat("x", 128-len(s)) }
	return pad("ana maría/ünïcode 名前 "), pad("ana mari\u0301a/ünïcode 名前 ")
}

// TestAnyUserIDWorksEndToEnd: a user whose id has spaces, slashes and
// non-ASCII letters makes a song that completes, with its events pushed to
// their WebSocket; the queues still group jobs per user (a backlog of one
// such user does not hold up another's job); and on the AWS backend every
// MessageGroupId and MessageDeduplicationId the SQS adapter sent is one
// SQS accepts (the emulator accepts any), one group per user.
func TestAnyUserIDWorksEndToEnd(t *testing.T) {
	first, second := oddUserIDs()
	if !utf8.ValidString(first) || len(first) != 128 || len(second) != 128 || first == second {
		t.Fatalf("the ids are not what the test needs: %q %q", first, second)
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			t.Run("SongCompletes", func(t *testing.T) {
				t.Parallel()
				sends := &awstest.SQSSends{}
				s := startStack(t, recordingSQS(b, sends), nil, devstack.Options{})
				u := user(t, s, first, generation.Pro)
				ws := u.dial()
				id := u.create("a song for an unusual name")
				if final := ws.waitFinal(t, id, waitLong); final.Event != service.EventComplete {
					t.Fatalf("final event %v, want generation:complete", final)
				}
				if st := u.status(id); st["status"] != "completed" {
					t.Errorf("status %v, want completed", st)
				}
				code, list := u.do("GET", "/api/generation", nil)
				if items, _ := list["items"].([]any); code != 200 || len(items) != 1 {
					t.Errorf("list: %d %v, want the one song", code, list)
				}
				// An operator finds it by its owner.
				code, list = admin(t, s).do("GET", "/api/admin/generations?user="+url.QueryEscape(first), nil)
				if items, _ := list["items"].([]any); code != 200 || len(items) != 1 {
					t.Errorf("operator's list of the user's songs: %d %v, want the one song", code, list)
				}
				checkSQSSends(t, b, sends, first)
			})
			t.Run("GroupsPerUser", func(t *testing.T) {
				t.Parallel()
				if b.name == "memory" {
					// The memory queues deliver as SQS fair queues do, by
					// group: a quiet user's job is not held up behind the
					// other's backlog.
					fairnessBetween(t, b, first, second)
					return
				}
				// moto has no fair queues, so the timing would measure the
				// emulator: the groups the adapter sends are what SQS
				// serves its users in turn by.
				sends := &awstest.SQSSends{}
				s := startStack(t, recordingSQS(b, sends), nil, devstack.Options{})
				var songs []struct {
					c  client
					id string
				}
				for _, u := range []client{user(t, s, first, generation.Free), user(t, s, second, generation.Free)} {
					for i := range 3 {
						songs = append(songs, struct {
							c  client
							id string
						}{u, u.create(fmt.Sprintf("song %d", i))})
					}
				}
				for _, sg := range songs {
					if st := sg.c.waitStatus(sg.id, "completed", statusIs("completed", "failed"), waitLong); st["status"] != "completed" {
						t.Errorf("song %s: %v", sg.id, st)
					}
				}
				checkSQSSends(t, b, sends, first, second)
			})
		})
	}
}

// recordingSQS is b with every SQS send recorded into sends (AWS backend
// only; the memory backend has no SQS).
func recordingSQS(b backend, sends *awstest.SQSSends) backend {
	setup := b.setup
	b.setup = func(t *testing.T, c *devstack.Config, o *devstack.Options) {
		setup(t, c, o)
		if o.AWSConfig != nil {
			cfg := o.AWSConfig.Copy()
			cfg.APIOptions = append(cfg.APIOptions, sends.APIOption)
			o.AWSConfig = &cfg
		}
	}
	return b
}

// checkSQSSends holds what the adapter sent on the AWS backend to SQS's
// rule: valid ids, a group on each of users' jobs, the same for all of one
// user's jobs and another for each other user.
func checkSQSSends(t *testing.T, b backend, sends *awstest.SQSSends, users ...string) {
	t.Helper()
	if b.name != "aws" {
		return
	}
	for _, err := range sends.Check() {
		t.Error(err)
	}
	groups := map[string]map[string]bool{} // user → groups
	for _, s := range sends.Sent() {
		var job service.Job
		if err := json.Unmarshal([]byte(s.Body), &job); err != nil || job.UserID == "" {
			continue
		}
		if s.GroupID == nil {
			t.Errorf("%s of %s for %q without a MessageGroupId", s.Operation, job.Kind, job.UserID)
			continue
		}
		if groups[job.UserID] == nil {
			groups[job.UserID] = map[string]bool{}
		}
		groups[job.UserID][*s.GroupID] = true
	}
	seen := map[string]string{}
	for _, u := range users {
		if len(groups[u]) != 1 {
			t.Errorf("%q's jobs were sent in groups %v, want one", u, groups[u])
		}
		for g := range groups[u] {
			if other, ok := seen[g]; ok {
				t.Errorf("%q and %q share the group %q", other, u, g)
			}
			seen[g] = u
		}
	}
	t.Logf("%d messages sent to SQS, groups %v", len(sends.Sent()), groups)
}
