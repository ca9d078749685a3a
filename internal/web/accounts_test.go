package web_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/web"
)

// TestSignInsAreThrottledAndAudited: failed sign-ins are logged with the
// client's address; past the per-account limit the answer is 429 before
// any password is checked, even with the right password; a disabled
// account cannot sign in and its session stops working; views, exports
// and token use are in the audit log.
func TestSignInsAreThrottledAndAudited(t *testing.T) {
	// The clock stands still: on a loaded machine the bcrypt checks of
	// the first guesses can take longer than the minute the limit spans,
	// and the fourth attempt must meet the limit whatever the machine.
	frozen := time.Now()
	n := start(t, web.Config{Limits: &web.Limits{LoginPerUser: 3, LoginPerIP: 100, FormPerIP: 100, APIPerToken: 100, APIPerIP: 100},
		Now: func() time.Time { return frozen }})
	ctx := context.Background()
	h, _ := access.HashPassword("a long passphrase")
	n.store.CreateUser(ctx, access.User{Name: "ana", PasswordHash: h, Role: access.Analyst, CreatedAt: time.Now()})
	n.store.CreateUser(ctx, access.User{Name: "bob", PasswordHash: h, Role: access.Analyst, CreatedAt: time.Now()})
	c := browser(t)
	csrf := string(csrfRe.FindSubmatch(get(t, c, n.url+"/login").body)[1])
	login := func(user, pw string) int {
		return postForm(t, c, n.url+"/login", "", map[string]string{"csrf": csrf, "user": user, "password": pw}, nil).status
	}
	for i := 0; i < 3; i++ {
		if s := login("ana", "guess"); s != 401 {
			t.Fatalf("guess %d: %d", i, s)
		}
	}
	if s := login("ana", "a long passphrase"); s != 429 {
		t.Fatalf("fourth attempt on ana within a minute: %d, want 429", s)
	}
	// Another account is not locked by ana's guesser.
	if s := login("bob", "a long passphrase"); s != 303 {
		t.Fatalf("bob: %d", s)
	}
	rec, _ := n.desk.Submit(ctx, intake.Submission{Channel: intake.ChannelAPI, Raw: []byte(spamMsg), SubmittedBy: "token:x"})
	id := rec.Reports[0].ID
	if r := get(t, c, n.url+"/desk/reports/"+id); r.status != 200 {
		t.Fatalf("report page: %d", r.status)
	}
	// Disabling ends bob's session at once.
	if err := n.store.DisableUser(ctx, "bob", time.Now()); err != nil {
		t.Fatal(err)
	}
	if r := get(t, c, n.url+"/desk"); r.status != 303 {
		t.Fatalf("disabled user's session still works: %d", r.status)
	}
	n.store.DisableUser(ctx, "bob", time.Time{})
	n.store.DisableUser(ctx, "bob", time.Now())
	if s := login("bob", "a long passphrase"); s != 401 {
		t.Fatalf("disabled user signed in: %d", s)
	}
	// Token use and an export through the API.
	tok := n.token(t, access.Analyst)
	if r := do(t, "GET", n.url+"/api/v1/reports/"+id+"/evidence", tok, "", nil); r.status != 200 {
		t.Fatalf("evidence: %d", r.status)
	}
	// A revoked token is refused.
	ts, _ := n.store.Tokens(ctx)
	for _, x := range ts {
		n.store.RevokeToken(ctx, x.ID, time.Now())
	}
	if r := do(t, "GET", n.url+"/api/v1/reports/"+id, tok, "", nil); r.status != 401 || r.errCode() != "bad-token" {
		t.Fatalf("revoked token: %d %s", r.status, r.body)
	}

	ev, err := n.store.AuditLog(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, e := range ev {
		lines = append(lines, e.Actor+" "+e.Action+" "+e.Target+" "+e.IP+" "+e.Detail)
	}
	all := strings.Join(lines, "\n")
	for _, want := range []string{
		"anonymous sign-in-failed user:ana 127.0.0.1 wrong password",
		"anonymous sign-in-throttled user:ana 127.0.0.1",
		"user:bob sign-in user:bob 127.0.0.1",
		"user:bob view report:" + id,
		"anonymous sign-in-failed user:bob 127.0.0.1 account disabled",
		"token-used token:",
		"export report:" + id,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("audit log lacks %q:\n%s", want, all)
		}
	}
	if c := bytes.Count([]byte(all), []byte("sign-in-failed user:ana")); c != 3 {
		t.Errorf("%d failed sign-ins of ana logged, want 3", c)
	}
}
