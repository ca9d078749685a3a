package web_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/filter"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/resolve"
	"github.com/accord-antispam/accord/internal/rules"
	"github.com/accord-antispam/accord/internal/store/sqlite"
	"github.com/accord-antispam/accord/internal/web"
)

// queueOut answers as the node's outbound queue does: queued, not yet
// delivered.
type queueOut struct {
	mu  sync.Mutex
	ids []string
}

func (q *queueOut) Deliver(_ context.Context, id, _ string, _ []string, _ []byte) (bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.ids = append(q.ids, id)
	return true, nil
}

// TestReleaseAPIQueued: releasing over the API answers the state the
// message is really in — queued while it waits for the relay — and
// released once the queue reports delivery.
func TestReleaseAPIQueued(t *testing.T) {
	ctx := context.Background()
	lib, _ := rules.Embedded()
	out := &queueOut{}
	f, err := filter.New(ctx, filter.Config{}, filter.Deps{Analyzer: &analysis.Analyzer{Rules: lib, Resolver: resolve.Offline{}},
		Store: filter.NewMemStore(), Outbound: out, Secret: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	n := start(t, web.Config{Filter: f})
	admin := n.token(t, access.Admin)
	f.PutPolicy(ctx, filter.Policy{Kind: filter.ScopeDefault, Action: ptrs(filter.ActionQuarantine)}, "t")
	dec, _ := f.Check(ctx, []byte("From: a@b.example\r\nSubject: held\r\n\r\n"+filter.GTUBE+"\r\n"), filter.Envelope{Rcpts: []string{"bob@example.org"}})
	ids, err := f.Quarantine(ctx, dec, []string{"bob@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	r := do(t, "POST", n.url+"/api/v1/filter/quarantine/"+ids[0]+"/release", admin, "", nil)
	var got struct{ ID, State string }
	json.Unmarshal(r.body, &got)
	if r.status != 200 || got.State != filter.StateQueued || len(out.ids) != 1 || out.ids[0] != ids[0] {
		t.Fatalf("release: %d %s (queued %v)", r.status, r.body, out.ids)
	}
	f.ReleaseDone(ctx, ids[0], true, "")
	r = do(t, "GET", n.url+"/api/v1/filter/quarantine/"+ids[0], admin, "", nil)
	var h filter.Held
	json.Unmarshal(r.body, &h)
	if r.status != 200 || h.State != filter.StateReleased {
		t.Errorf("after delivery: %d %s", r.status, h.State)
	}
}

// TestAdminQuarantineListCarriesNoContent (attack review 26, A7): the
// administrator's GET /api/v1/filter/quarantine gave every user's held
// mail with its Subject and From — content — and wrote no audit entry,
// however often it was called. The list carries envelope and decision
// only; one message's content comes from GET …/{id}, audited first.
func TestAdminQuarantineListCarriesNoContent(t *testing.T) {
	ctx := context.Background()
	lib, _ := rules.Embedded()
	st := filter.NewMemStore()
	f, err := filter.New(ctx, filter.Config{}, filter.Deps{Analyzer: &analysis.Analyzer{Rules: lib, Resolver: resolve.Offline{}},
		Store: st, Outbound: &queueOut{}, Secret: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	n := start(t, web.Config{Filter: f})
	admin := n.token(t, access.Admin)
	f.PutPolicy(ctx, filter.Policy{Kind: filter.ScopeDefault, Action: ptrs(filter.ActionQuarantine)}, "t")
	msg := "From: Private Sender <private.sender@evil.example>\r\nSubject: Diagnosis results for ana\r\n\r\n" + filter.GTUBE + "\r\n"
	dec, _ := f.Check(ctx, []byte(msg), filter.Envelope{MailFrom: "bounce@relay.example", Rcpts: []string{"ana@example.org"}})
	ids, err := f.Quarantine(ctx, dec, []string{"ana@example.org"})
	if err != nil || len(ids) != 1 {
		t.Fatal(ids, err)
	}
	for range 3 {
		r := do(t, "GET", n.url+"/api/v1/filter/quarantine", admin, "", nil)
		var got struct{ Messages []map[string]any }
		if err := json.Unmarshal(r.body, &got); err != nil || r.status != 200 || len(got.Messages) != 1 {
			t.Fatalf("list: %d %s", r.status, r.body)
		}
		m := got.Messages[0]
		if m["ID"] != ids[0] || m["Recipient"] != "ana@example.org" || m["MailFrom"] != "bounce@relay.example" || m["State"] != filter.StateHeld {
			t.Errorf("the list lost the envelope: %s", r.body)
		}
		if strings.Contains(string(r.body), "Diagnosis") || strings.Contains(string(r.body), "private.sender") {
			t.Fatalf("the unaudited list carries the Subject or From:\n%s", r.body)
		}
	}
	if log, _ := st.FilterAuditLog(ctx, ids[0], 10); len(log) != 0 {
		t.Errorf("a list wrote %d read entries; it reads no content", len(log))
	}
	// One message, asked for: content, and an audit entry first.
	r := do(t, "GET", n.url+"/api/v1/filter/quarantine/"+ids[0], admin, "", nil)
	var h filter.Held
	json.Unmarshal(r.body, &h)
	if r.status != 200 || h.Subject != "Diagnosis results for ana" || h.From != "private.sender@evil.example" {
		t.Errorf("one message: %d %+v", r.status, h)
	}
	if log, _ := st.FilterAuditLog(ctx, ids[0], 10); len(log) != 1 || log[0].Action != "quarantine.read" {
		t.Errorf("the read of one message is not audited: %+v", log)
	}
	// The mailbox owner's own list keeps its subjects.
	own, err := f.List(ctx, filter.Actor{Label: "user:ana", Mailbox: "ana@example.org"}, filter.HeldFilter{})
	if err != nil || len(own) != 1 || own[0].Subject != "Diagnosis results for ana" {
		t.Errorf("the owner's list: %+v %v", own, err)
	}
}

// TestMailboxOwnerSignsInAnyCaseAndKeepsInheriting: a mailbox account is
// its address, which people type as they like (Ana@Example.org signed in
// as nobody), and saving the owner's page without touching "Filter my
// mail" leaves it following the domain (it pinned it, so the provider's
// later choice no longer reached them) — the trial of the filter, LOW.
func TestMailboxOwnerSignsInAnyCaseAndKeepsInheriting(t *testing.T) {
	ctx := context.Background()
	lib, _ := rules.Embedded()
	f, err := filter.New(ctx, filter.Config{}, filter.Deps{Analyzer: &analysis.Analyzer{Rules: lib, Resolver: resolve.Offline{}},
		Store: filter.NewMemStore(), Outbound: &queueOut{}, Secret: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	n := start(t, web.Config{Filter: f})
	h, _ := access.HashPassword("a long passphrase")
	if err := n.store.CreateUser(ctx, access.User{Name: "ana@example.org", PasswordHash: h, Role: access.Mailbox, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	c := browser(t)
	csrf := csrfRe.FindSubmatch(get(t, c, n.url+"/login").body)
	if r := postForm(t, c, n.url+"/login", "", map[string]string{"csrf": string(csrf[1]), "user": "Ana@Example.ORG", "password": "a long passphrase"}, nil); r.status != 303 || r.header.Get("Location") != "/mail" {
		t.Fatalf("sign-in as Ana@Example.ORG: %d %s", r.status, r.body)
	}
	page := get(t, c, n.url+"/mail")
	sess := csrfRe.FindSubmatch(page.body)
	if page.status != 200 || sess == nil || !strings.Contains(string(page.body), `name="enabled_was" value="on"`) {
		t.Fatalf("/mail: %d", page.status)
	}
	save := func(fields map[string]string) {
		t.Helper()
		fields["csrf"] = string(sess[1])
		if r := postForm(t, c, n.url+"/mail/policy", "", fields, nil); r.status != 303 {
			t.Fatalf("save: %d %s", r.status, r.body)
		}
	}
	save(map[string]string{"enabled": "on", "enabled_was": "on", "spam": "5"})
	p, err := f.Policy(ctx, filter.ScopeRecipient, "ana@example.org")
	if err != nil || p.Enabled != nil || p.Spam == nil || *p.Spam != 5 {
		t.Fatalf("after a save that left filtering as shown: %+v %v", p, err)
	}
	off := false
	if _, err := f.PutPolicy(ctx, filter.Policy{Kind: filter.ScopeDomain, Key: "example.org", Enabled: &off}, "t"); err != nil {
		t.Fatal(err)
	}
	if f.Effective("ana@example.org").Enabled {
		t.Error("the domain's choice does not reach her")
	}
	save(map[string]string{"enabled": "on", "enabled_was": "off"})
	if p, _ := f.Policy(ctx, filter.ScopeRecipient, "ana@example.org"); p.Enabled == nil || !*p.Enabled {
		t.Errorf("turning filtering on is not her own setting: %+v", p)
	}
}

// syncBuf is a log sink the server's goroutines may write at once.
type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestMailboxAddressNotLogged: a mailbox owner's sign-in and release
// name them in the service log by the desk's keyed pseudonym, never by
// their address (attack 26 A11: `msg="signed in" user=bob@example.org`,
// `msg="filter released" … by=user:ana@example.org`); the audit log, which is
// confidential, still names the account.
func TestMailboxAddressNotLogged(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "accord.db"))
	if err != nil {
		t.Fatal(err)
	}
	lib, _ := rules.Embedded()
	an := &analysis.Analyzer{Rules: lib, Resolver: resolve.Offline{}}
	d, err := intake.New(st, an, intake.Options{Secret: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuf
	log := slog.New(slog.NewTextHandler(&logs, nil))
	f, err := filter.New(ctx, filter.Config{}, filter.Deps{Analyzer: an, Store: filter.NewMemStore(), Outbound: &queueOut{},
		Secret: []byte("k"), Logger: log, Pseudonym: d.Pseudonym})
	if err != nil {
		t.Fatal(err)
	}
	s, err := web.New(d, st, web.Config{Filter: f}, log)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() { srv.Close(); d.Close(); st.Close() })
	h, _ := access.HashPassword("a long passphrase")
	if err := st.CreateUser(ctx, access.User{Name: "ana@example.org", PasswordHash: h, Role: access.Mailbox, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	f.PutPolicy(ctx, filter.Policy{Kind: filter.ScopeDefault, Action: ptrs(filter.ActionQuarantine)}, "t")
	dec, _ := f.Check(ctx, []byte("From: a@b.example\r\nSubject: held\r\n\r\n"+filter.GTUBE+"\r\n"), filter.Envelope{Rcpts: []string{"ana@example.org"}})
	ids, err := f.Quarantine(ctx, dec, []string{"ana@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	c := browser(t)
	csrf := csrfRe.FindSubmatch(get(t, c, srv.URL+"/login").body)
	if r := postForm(t, c, srv.URL+"/login", "", map[string]string{"csrf": string(csrf[1]), "user": "ana@example.org", "password": "a long passphrase"}, nil); r.status != 303 {
		t.Fatalf("sign-in: %d %s", r.status, r.body)
	}
	sess := csrfRe.FindSubmatch(get(t, c, srv.URL+"/mail").body)
	if r := postForm(t, c, srv.URL+"/mail/q/"+ids[0]+"/release", "", map[string]string{"csrf": string(sess[1])}, nil); r.status != 303 {
		t.Fatalf("release: %d %s", r.status, r.body)
	}
	out := logs.String()
	pseudo := "user:" + d.Pseudonym("ana@example.org")
	if strings.Contains(out, "ana@example.org") || !strings.Contains(out, `msg="signed in" user=`+pseudo) ||
		!strings.Contains(out, "by="+pseudo) {
		t.Errorf("the service log names the mailbox, or not by its pseudonym %s:\n%s", pseudo, out)
	}
}

// TestReportHeldKeepsTheSessionOrigin: "Report to the authority" from the
// quarantine gives the desk the client the filter door's session saw (the
// node's own MTA, the trusted top hop), which the held bytes do not show;
// before, the report had no origin (trial 26 T6).
func TestReportHeldKeepsTheSessionOrigin(t *testing.T) {
	ctx := context.Background()
	lib, _ := rules.Embedded()
	f, err := filter.New(ctx, filter.Config{}, filter.Deps{Analyzer: &analysis.Analyzer{Rules: lib, Resolver: resolve.Offline{}},
		Store: filter.NewMemStore(), Outbound: &queueOut{}, Secret: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	n := start(t, web.Config{Filter: f})
	h, _ := access.HashPassword("a long passphrase")
	if err := n.store.CreateUser(ctx, access.User{Name: "erin@example.org", PasswordHash: h, Role: access.Mailbox, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	f.PutPolicy(ctx, filter.Policy{Kind: filter.ScopeDefault, Action: ptrs(filter.ActionQuarantine)}, "t")
	// As the milter door gives it: the MTA's client, with no reverse name.
	env := filter.Envelope{IP: netip.MustParseAddr("203.0.113.5"), Helo: "bulk.example.net", MailFrom: "x@bulk.example.net", Rcpts: []string{"erin@example.org"}}
	dec, _ := f.Check(ctx, []byte("From: x@bulk.example.net\r\nTo: erin@example.org\r\nSubject: held\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\n"+
		"Message-ID: <t6@bulk.example.net>\r\n\r\n"+filter.GTUBE+"\r\n"), env)
	ids, err := f.Quarantine(ctx, dec, []string{"erin@example.org"})
	if err != nil || len(ids) != 1 {
		t.Fatal(ids, err)
	}
	c := browser(t)
	csrf := csrfRe.FindSubmatch(get(t, c, n.url+"/login").body)
	if r := postForm(t, c, n.url+"/login", "", map[string]string{"csrf": string(csrf[1]), "user": "erin@example.org", "password": "a long passphrase"}, nil); r.status != 303 {
		t.Fatalf("sign-in: %d", r.status)
	}
	sess := csrfRe.FindSubmatch(get(t, c, n.url+"/mail").body)
	if r := postForm(t, c, n.url+"/mail/q/"+ids[0]+"/report", "", map[string]string{"csrf": string(sess[1])}, nil); r.status != 303 || !strings.Contains(r.header.Get("Location"), "reported") {
		t.Fatalf("report: %d %s", r.status, r.header.Get("Location"))
	}
	reps, err := n.store.Reports(ctx, intake.ReportFilter{})
	if err != nil || len(reps) != 1 {
		t.Fatalf("reports %v %v", reps, err)
	}
	if reps[0].OriginIP != "203.0.113.5" {
		t.Errorf("the report's origin is %q, want the session's client 203.0.113.5", reps[0].OriginIP)
	}
	rep, _ := n.store.Report(ctx, reps[0].ID)
	if o := rep.Verdict.Origin; o.Trust != "session" || o.HELO != "bulk.example.net" || o.RDNS != "" {
		t.Errorf("origin %+v", o)
	}
}
