package milterd

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/d--j/go-milter"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/connlimit"
	"github.com/accord-antispam/accord/internal/filter"
	"github.com/accord-antispam/accord/internal/resolve"
	"github.com/accord-antispam/accord/internal/rules"
)

func ptr[T any](v T) *T { return &v }

// testOwnMailKey is the node's own-mail key in these tests: the filter's
// and the outbound queue's (TestPostfix).
var testOwnMailKey = []byte("own-mail key of the test node")

func start(t testing.TB, cfg filter.Config) (*Server, *filter.Service, *filter.MemStore) {
	t.Helper()
	return startWith(t, cfg, nil)
}

func startWith(t testing.TB, cfg filter.Config, out filter.Outbound) (*Server, *filter.Service, *filter.MemStore) {
	t.Helper()
	lib, err := rules.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	st := filter.NewMemStore()
	f, err := filter.New(context.Background(), cfg, filter.Deps{Analyzer: &analysis.Analyzer{Rules: lib, Resolver: resolve.Offline{}}, Store: st, Secret: []byte("s"), Outbound: out,
		OwnMailKey: testOwnMailKey})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Listen("127.0.0.1:0", f, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, f, st
}

type result struct {
	act  *milter.Action
	mods []milter.ModifyAction
}

// send plays an MTA: one transaction through the milter protocol.
func send(t *testing.T, addr string, rcpts []string, header [][2]string, body string) result {
	t.Helper()
	c := milter.NewClient("tcp", addr, milter.WithDialer(&net.Dialer{Timeout: 5 * time.Second}))
	s, err := c.Session(milter.NewMacroBag())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	must := func(a *milter.Action, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if a.Type != milter.ActionContinue {
			t.Fatalf("early answer %+v", a)
		}
	}
	must(s.Conn("client.example", milter.FamilyInet, 4321, "192.0.2.10"))
	must(s.Helo("client.example"))
	must(s.Mail("<sender@client.example>", ""))
	for _, r := range rcpts {
		must(s.Rcpt("<"+r+">", ""))
	}
	must(s.DataStart())
	for _, h := range header {
		must(s.HeaderField(h[0], h[1], nil))
	}
	must(s.HeaderEnd())
	mods, act, err := s.BodyReadFrom(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return result{act, mods}
}

func hdr(subject string) [][2]string {
	return [][2]string{{"From", "Sender <sender@client.example>"}, {"To", "ana@example.org"}, {"Subject", subject},
		{"Date", "Mon, 2 Mar 2026 10:00:00 +0000"}, {"Message-ID", fmt.Sprintf("<%d@client.example>", time.Now().UnixNano())},
		{"X-Spam-Flag", "NO"}, {"Authentication-Results", "mx.example.org; dkim=pass header.d=bank.example"}}
}

func added(r result) map[string]string {
	m := map[string]string{}
	for _, x := range r.mods {
		if x.Type == milter.ActionAddHeader || x.Type == milter.ActionInsertHeader {
			m[x.HeaderName] = strings.TrimSpace(x.HeaderValue)
		}
	}
	return m
}

func TestMilterDecisions(t *testing.T) {
	s, f, st := start(t, filter.Config{AuthServID: "mx.example.org"})
	ctx := context.Background()
	f.PutPolicy(ctx, filter.Policy{Kind: filter.ScopeRecipient, Key: "rej@example.org", Action: ptr(filter.ActionReject)}, "t")
	f.PutPolicy(ctx, filter.Policy{Kind: filter.ScopeRecipient, Key: "rej2@example.org", Action: ptr(filter.ActionReject)}, "t")
	f.PutPolicy(ctx, filter.Policy{Kind: filter.ScopeRecipient, Key: "q@example.org", Action: ptr(filter.ActionQuarantine)}, "t")
	f.PutPolicy(ctx, filter.Policy{Kind: filter.ScopeRecipient, Key: "tag@example.org", Quarantine: ptr(0.0)}, "t")
	addr := s.Addr().String()

	// Ham: accepted, headers added, the forged ones removed.
	r := send(t, addr, []string{"ana@example.org"}, hdr("lunch"), "see you at noon\r\n")
	if r.act.Type != milter.ActionAccept && r.act.Type != milter.ActionContinue {
		t.Fatalf("ham: %+v", r.act)
	}
	h := added(r)
	if h["X-Spam-Flag"] != "NO" || strings.HasPrefix(h["X-Spam-Status"], "Yes") || !strings.HasPrefix(h["Authentication-Results"], "mx.example.org;") {
		t.Errorf("ham headers: %v", h)
	}
	removed := 0
	for _, m := range r.mods {
		if m.Type == milter.ActionChangeHeader && m.HeaderValue == "" {
			removed++
		}
	}
	if removed != 2 {
		t.Errorf("removed %d forged fields, want 2 (X-Spam-Flag and our Authentication-Results): %+v", removed, r.mods)
	}

	// Every recipient rejects: 550 with the reference.
	r = send(t, addr, []string{"rej@example.org", "rej2@example.org"}, hdr("test"), filter.GTUBE+"\r\n")
	if r.act.Type != milter.ActionRejectWithCode || r.act.SMTPCode != 550 || !strings.Contains(r.act.SMTPReply, "5.7.1") || !strings.Contains(r.act.SMTPReply, "reference") {
		t.Fatalf("reject: %+v", r.act)
	}

	// Mixed: the quarantining and rejecting recipients are held and
	// removed; the tagging recipient gets it with the spam flag.
	r = send(t, addr, []string{"q@example.org", "rej@example.org", "tag@example.org"}, hdr("test"), filter.GTUBE+"\r\n")
	var del []string
	for _, m := range r.mods {
		if m.Type == milter.ActionDelRcpt {
			del = append(del, m.Rcpt)
		}
	}
	if len(del) != 2 || added(r)["X-Spam-Flag"] != "YES" {
		t.Fatalf("mixed: deleted %v, headers %v, action %+v", del, added(r), r.act)
	}
	held, _ := st.HeldMessages(ctx, filter.HeldFilter{})
	if len(held) != 2 {
		t.Fatalf("held %d, want 2", len(held))
	}

	// Everybody holds: discarded (the quarantine has it).
	r = send(t, addr, []string{"q@example.org"}, hdr("test"), filter.GTUBE+"\r\n")
	if r.act.Type != milter.ActionDiscard {
		t.Fatalf("all quarantined: %+v", r.act)
	}
	if held, _ := st.HeldMessages(ctx, filter.HeldFilter{Recipient: "q@example.org"}); len(held) != 2 {
		t.Fatalf("q@ has %d held, want 2", len(held))
	}
}

// TestMilterRemovesOtherFiltersVerdicts: the SpamAssassin and rspamd
// verdict fields a sender planted (X-Spam-Level, X-Spam-Bar,
// X-Spamd-Result, X-Rspamd-Action, any X-Spam-*) are deleted like
// X-Spam-Flag; before, they reached the mailbox (attack 26 A10).
func TestMilterRemovesOtherFiltersVerdicts(t *testing.T) {
	s, _, _ := start(t, filter.Config{AuthServID: "mx.example.org"})
	h := append(hdr("planted"), [][2]string{{"X-Spam-Level", "**********"}, {"X-Spam-Checker-Version", "SpamAssassin 4.0"},
		{"X-Spam-Bar", "+++++"}, {"X-Spamd-Result", "default: False [-10 / 15]"}, {"X-Rspamd-Action", "no action"},
		{"x-spam-virus", "No"}, {"X-Spammy-Name", "kept"}}...)
	r := send(t, s.Addr().String(), []string{"ana@example.org"}, h, "body\r\n")
	deleted := map[string]bool{}
	for _, m := range r.mods {
		if m.Type == milter.ActionChangeHeader && m.HeaderValue == "" {
			deleted[strings.ToLower(m.HeaderName)] = true
		}
	}
	for _, n := range []string{"x-spam-level", "x-spam-checker-version", "x-spam-bar", "x-spamd-result", "x-rspamd-action", "x-spam-virus", "x-spam-flag"} {
		if !deleted[n] {
			t.Errorf("%s not deleted: %+v", n, r.mods)
		}
	}
	if deleted["x-spammy-name"] {
		t.Errorf("a field outside the verdict prefixes was deleted")
	}
}

// TestMilterAuthResultsTakeNoInjection: MAIL FROM reaches the node's own
// Authentication-Results only as a domain name; what is not one is left
// out. Before, "<a@ok.test;spf=pass>" gave "spf=none
// smtp.mailfrom=ok.test;spf=pass" under the node's authserv-id (attack
// 26 A2). A fixture resolver (no records) makes SPF computed.
func TestMilterAuthResultsTakeNoInjection(t *testing.T) {
	lib, _ := rules.Embedded()
	f, err := filter.New(context.Background(), filter.Config{AuthServID: "mx.example.org"},
		filter.Deps{Analyzer: &analysis.Analyzer{Rules: lib, Resolver: &resolve.Zone{}}, Store: filter.NewMemStore(), Secret: []byte("s")})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Listen("127.0.0.1:0", f, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ar := func(mailFrom, helo string) string {
		c := milter.NewClient("tcp", s.Addr().String(), milter.WithDialer(&net.Dialer{Timeout: 5 * time.Second}))
		ss, err := c.Session(milter.NewMacroBag())
		if err != nil {
			t.Fatal(err)
		}
		defer ss.Close()
		for _, step := range []func() (*milter.Action, error){
			func() (*milter.Action, error) {
				return ss.Conn("client.example", milter.FamilyInet, 4321, "203.0.113.20")
			},
			func() (*milter.Action, error) { return ss.Helo(helo) },
			func() (*milter.Action, error) { return ss.Mail(mailFrom, "") },
			func() (*milter.Action, error) { return ss.Rcpt("<carl@example.org>", "") },
			ss.DataStart,
			func() (*milter.Action, error) { return ss.HeaderField("From", "a@ok.test", nil) },
			func() (*milter.Action, error) { return ss.HeaderField("Subject", "x", nil) },
			ss.HeaderEnd,
		} {
			if a, err := step(); err != nil || a.Type != milter.ActionContinue {
				t.Fatalf("%q: %+v %v", mailFrom, a, err)
			}
		}
		mods, _, err := ss.BodyReadFrom(strings.NewReader("hi\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		return added(result{mods: mods})["Authentication-Results"]
	}
	for _, mf := range []string{"<a@ok.test;spf=pass>", "<a@ok.test> ; dkim=pass header.d=paypal.com", "<a@ok.test(spf=pass)>", "<a@[1.2.3.4];spf=pass>"} {
		got := ar(mf, "client.example")
		if !strings.HasPrefix(got, "mx.example.org; spf=none") || strings.Contains(got, "pass") || strings.Contains(got, "paypal") || strings.Contains(got, "smtp.mailfrom") {
			t.Errorf("MAIL FROM %q: Authentication-Results %q", mf, got)
		}
	}
	// The null sender: SPF checks the HELO name, under the same rule.
	if got := ar("<>", "evil.test;spf=pass"); !strings.HasPrefix(got, "mx.example.org; spf=none") || strings.Contains(got, "pass") || strings.Contains(got, "smtp.helo") {
		t.Errorf("HELO evil.test;spf=pass: Authentication-Results %q", got)
	}
	if got := ar("<>", "mail.ok.test"); !strings.Contains(got, "smtp.helo=mail.ok.test") {
		t.Errorf("a plain HELO name is not written: %q", got)
	}
	if got := ar("<a@OK.test>", "client.example"); !strings.Contains(got, "smtp.mailfrom=ok.test") {
		t.Errorf("a plain sender's domain is not written: %q", got)
	}
}

func TestMilterOversizedPasses(t *testing.T) {
	s, _, _ := start(t, filter.Config{MaxScan: 4096})
	r := send(t, s.Addr().String(), []string{"ana@example.org"}, hdr("big"), strings.Repeat("a spammy line "+filter.GTUBE+"\r\n", 200))
	if r.act.Type != milter.ActionAccept && r.act.Type != milter.ActionContinue {
		t.Fatalf("oversized: %+v", r.act)
	}
	if v := added(r)["X-Accord-Filter"]; !strings.Contains(v, "too-large") {
		t.Errorf("oversized headers: %v", added(r))
	}
}

// TestMilterHostileClients: garbage, a client that vanishes mid-message
// and one that never finishes must not take the milter down.
func TestMilterHostileClients(t *testing.T) {
	s, _, _ := start(t, filter.Config{})
	addr := s.Addr().String()
	// Garbage: a huge length prefix, then nothing.
	for _, junk := range [][]byte{{0xff, 0xff, 0xff, 0xff, 'O'}, []byte("GET / HTTP/1.1\r\n\r\n"), {0, 0, 0, 1, 'Z'}} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write(junk)
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 64)
		c.Read(buf)
		c.Close()
	}
	// Vanishing mid-message.
	c := milter.NewClient("tcp", addr)
	sess, err := c.Session(milter.NewMacroBag())
	if err != nil {
		t.Fatal(err)
	}
	sess.Conn("x.example", milter.FamilyInet, 1, "192.0.2.1")
	sess.Helo("x.example")
	sess.Mail("<a@x.example>", "")
	sess.Rcpt("<b@example.org>", "")
	sess.DataStart()
	sess.HeaderField("Subject", "half", nil)
	sess.HeaderEnd()
	sess.BodyChunk([]byte("half a body"))
	sess.Close()
	// Still serving.
	r := send(t, addr, []string{"ana@example.org"}, hdr("after"), "still here\r\n")
	if r.act.Type != milter.ActionAccept && r.act.Type != milter.ActionContinue {
		t.Fatalf("after hostile clients: %+v", r.act)
	}
}

// A header padded past what the filter reads is refused (552 5.3.4), not
// delivered with fields nobody saw; a sender's Authentication-Results in
// our name after a comment is removed like the plain one.
func TestMilterHeaderLimitAndOwnAuthResults(t *testing.T) {
	s, _, _ := start(t, filter.Config{AuthServID: "mx.example.org"})
	c := milter.NewClient("tcp", s.Addr().String(), milter.WithDialer(&net.Dialer{Timeout: 5 * time.Second}))
	ses, err := c.Session(milter.NewMacroBag())
	if err != nil {
		t.Fatal(err)
	}
	defer ses.Close()
	ses.Conn("client.example", milter.FamilyInet, 4321, "192.0.2.10")
	ses.Helo("client.example")
	ses.Mail("<sender@client.example>", "")
	ses.Rcpt("<ana@example.org>", "")
	ses.DataStart()
	for i := 0; i <= filter.MaxHeaderFields && err == nil; i++ {
		_, err = ses.HeaderField("X-P", "x", nil)
	}
	if err == nil {
		_, err = ses.HeaderEnd()
	}
	var last *milter.Action
	if err == nil {
		_, last, err = ses.BodyReadFrom(strings.NewReader("body\r\n"))
	}
	if err != nil || last.Type != milter.ActionRejectWithCode || last.SMTPCode != 552 || !strings.Contains(last.SMTPReply, "5.3.4") {
		t.Fatalf("padded header: %+v %v", last, err)
	}

	h := append(hdr("comment"), [2]string{"Authentication-Results", "(c) mx.example.org; spf=pass smtp.mailfrom=bank.example"},
		[2]string{"Authentication-Results", "\"mx.example.org\"; dkim=pass header.d=bank.example"})
	r := send(t, s.Addr().String(), []string{"ana@example.org"}, h, "see you\r\n")
	removed := 0
	for _, m := range r.mods {
		if m.Type == milter.ActionChangeHeader && m.HeaderValue == "" {
			removed++
		}
	}
	if removed != 4 {
		t.Errorf("removed %d fields, want 4 (X-Spam-Flag and three Authentication-Results in our name): %+v", removed, r.mods)
	}
}

// An MTA connection that stalls is closed after the idle timeout instead
// of holding its goroutine for ever, and one address cannot hold more
// than its share of connections.
func TestMilterIdleTimeoutAndPerClientCap(t *testing.T) {
	lib, _ := rules.Embedded()
	f, err := filter.New(context.Background(), filter.Config{}, filter.Deps{Analyzer: &analysis.Analyzer{Rules: lib, Resolver: resolve.Offline{}}, Store: filter.NewMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	s, err := ListenWith("127.0.0.1:0", f, nil, Limits{IdleTimeout: 300 * time.Millisecond, MaxConnsPerIP: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	addr := s.Addr().String()
	session := func() *milter.ClientSession {
		c := milter.NewClient("tcp", addr, milter.WithDialer(&net.Dialer{Timeout: 5 * time.Second}))
		ses, err := c.Session(milter.NewMacroBag())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ses.Close() })
		if _, err := ses.Conn("client.example", milter.FamilyInet, 4321, "192.0.2.10"); err != nil {
			t.Fatal(err)
		}
		ses.Helo("client.example")
		if act, err := ses.Mail("<a@client.example>", ""); err != nil || act.Type != milter.ActionContinue {
			t.Fatal(act, err)
		}
		return ses
	}
	// Two negotiated sessions take the address's share: a third
	// connection is closed at once (before the protocol's own 1 s
	// negotiation bound).
	a, _ := session(), session()
	time.Sleep(100 * time.Millisecond)
	if _, one := s.l.(*connlimit.Listener).Open("127.0.0.1"); one != 2 {
		t.Fatalf("%d connections open from 127.0.0.1, want 2", one)
	}
	third, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	third.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := third.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Errorf("a third connection from one address was kept open: %v", err)
	}
	// Silent mid-transaction for longer than the idle timeout: closed.
	time.Sleep(time.Second)
	a.Rcpt("<b@example.org>", "")
	if act, err := a.DataStart(); err == nil {
		t.Errorf("a stalled connection was still served after 1 s: %+v", act)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// A message that finds every scan slot taken is delivered with
// X-Accord-Filter: skipped: busy (fail-open, the default), or tempfailed
// when the filter is configured to tempfail — unless the checks that need
// no slot decide, as on the timeout path: GTUBE, or a sender on the
// recipient's block list, is acted on (held here) either way.
func TestMilterBusy(t *testing.T) {
	for _, tempfail := range []bool{false, true} {
		s, f, st := start(t, filter.Config{MaxScans: 1, ScanWait: 50 * time.Millisecond, TempFailOnTimeout: tempfail})
		ctx := context.Background()
		f.PutPolicy(ctx, filter.Policy{Kind: filter.ScopeRecipient, Key: "bo@example.org", Block: []string{"sender@client.example"}, Action: ptr(filter.ActionQuarantine)}, "t")
		release, ok := f.Acquire(ctx)
		if !ok {
			t.Fatal("no scan slot")
		}
		r := send(t, s.Addr().String(), []string{"ana@example.org"}, hdr("busy"), "see you at noon\r\n")
		gtube := send(t, s.Addr().String(), []string{"ana@example.org"}, hdr("busy gtube"), filter.GTUBE+"\r\n")
		blocked := send(t, s.Addr().String(), []string{"bo@example.org"}, hdr("busy blocked"), "see you at noon\r\n")
		release()
		if tempfail {
			if r.act.Type != milter.ActionTempFail {
				t.Errorf("busy, tempfail: %+v", r.act)
			}
		} else if r.act.Type != milter.ActionAccept || !strings.HasPrefix(added(r)["X-Accord-Filter"], "skipped: busy") {
			t.Errorf("busy, fail-open: %+v %v", r.act, added(r))
		}
		if gtube.act.Type != milter.ActionDiscard {
			t.Errorf("GTUBE while busy (tempfail %v): %+v %v, want held", tempfail, gtube.act, added(gtube))
		}
		if blocked.act.Type != milter.ActionDiscard {
			t.Errorf("a blocked sender while busy (tempfail %v): %+v %v, want held", tempfail, blocked.act, added(blocked))
		}
		if held, _ := st.HeldMessages(ctx, filter.HeldFilter{}); len(held) != 2 {
			t.Errorf("held while busy (tempfail %v): %d, want 2", tempfail, len(held))
		}
	}
}

// TestMilterNoUsableRecipient: a recipient that is not an address gets
// the default policy's verdict, tagged at most: never held (a copy filed
// under nobody could not be released) nor discarded or refused.
func TestMilterNoUsableRecipient(t *testing.T) {
	s, _, st := start(t, filter.Config{AuthServID: "mx.example.org"})
	r := send(t, s.Addr().String(), []string{"not an address"}, hdr("test"), filter.GTUBE+"\r\n")
	if r.act.Type != milter.ActionAccept && r.act.Type != milter.ActionContinue {
		t.Fatalf("GTUBE for no usable recipient: %+v, want it delivered tagged", r.act)
	}
	for _, m := range r.mods {
		if m.Type == milter.ActionDelRcpt {
			t.Errorf("recipient removed: %+v", m)
		}
	}
	h := added(r)
	if h["X-Spam-Flag"] != "YES" || !strings.Contains(h["X-Spam-Status"], filter.SymbolNoRecipient) {
		t.Errorf("headers: %v", h)
	}
	if held, _ := st.HeldMessages(context.Background(), filter.HeldFilter{}); len(held) != 0 {
		t.Errorf("%d held for no recipient", len(held))
	}
}

// TestMilterBlockListNamed: a sender on a block list was refused "score
// -3.29" or held with only the classifier's symbol recorded; the reason is
// a named symbol in the refusal, the held copy's record and the headers.
// A recipient's allow entry for a sender its domain blocks counts only
// when the node authenticated the sender: here it did not, so the first
// scope whose entry counts — the domain's block — decides (refused), and
// the symbol says the allow entry did not count.
func TestMilterBlockListNamed(t *testing.T) {
	s, f, st := start(t, filter.Config{AuthServID: "mx.example.org"})
	ctx := context.Background()
	addr := s.Addr().String()
	f.PutPolicy(ctx, filter.Policy{Kind: filter.ScopeDomain, Key: "example.org", Block: []string{"client.example"}, Action: ptr(filter.ActionReject)}, "t")
	f.PutPolicy(ctx, filter.Policy{Kind: filter.ScopeRecipient, Key: "ana@example.org", Allow: []string{"client.example"}}, "t")
	f.PutPolicy(ctx, filter.Policy{Kind: filter.ScopeRecipient, Key: "q@example.org", Action: ptr(filter.ActionQuarantine)}, "t")
	f.PutPolicy(ctx, filter.Policy{Kind: filter.ScopeRecipient, Key: "tag@example.org", Action: ptr(filter.ActionTag)}, "t")

	r := send(t, addr, []string{"ana@example.org"}, hdr("lunch"), "see you at noon\r\n")
	if r.act.Type != milter.ActionRejectWithCode || !strings.Contains(r.act.SMTPReply, filter.SymbolBlocked) {
		t.Fatalf("blocked by the domain, allowed (unauthenticated) by the recipient: %+v, want a refusal naming %s", r.act, filter.SymbolBlocked)
	}
	r = send(t, addr, []string{"q@example.org"}, hdr("lunch"), "see you at noon\r\n")
	if r.act.Type != milter.ActionDiscard {
		t.Fatalf("blocked for a holding recipient: %+v", r.act)
	}
	held, _ := st.HeldMessages(ctx, filter.HeldFilter{Recipient: "q@example.org"})
	if len(held) != 1 {
		t.Fatalf("%d held", len(held))
	}
	h, _ := st.HeldMessage(ctx, held[0].ID)
	found := false
	for _, sy := range h.Symbols {
		if sy.Name == filter.SymbolBlocked && strings.Contains(sy.Description, "domain:example.org (client.example)") {
			found = true
		}
	}
	if !found || h.Score < 50 {
		t.Errorf("the held copy's record does not say why: score %.2f, symbols %+v", h.Score, h.Symbols)
	}
	r = send(t, addr, []string{"tag@example.org"}, hdr("lunch"), "see you at noon\r\n")
	hs := added(r)
	if hs["X-Spam-Flag"] != "YES" || !strings.Contains(hs["X-Spam-Status"], filter.SymbolBlocked+"=100.00") {
		t.Errorf("blocked and tagged: headers %v", hs)
	}
	// The score shown is the sum of the tests listed, the block's 100
	// points with them (it said score=0.00 beside BLOCKED=100.00).
	if sum, score := testsSum(t, hs["X-Spam-Status"]); math.Abs(sum-score) > 0.05 || score < 100 || hs["X-Spam-Score"] != fmt.Sprintf("%.2f", score) {
		t.Errorf("X-Spam-Status score %.2f, its tests sum to %.2f; X-Spam-Score %s", score, sum, hs["X-Spam-Score"])
	}
}

// testsSum reads X-Spam-Status: the sum of its tests' points and its score.
func testsSum(t *testing.T, status string) (sum, score float64) {
	t.Helper()
	m := regexp.MustCompile(`score=(-?[0-9.]+) .*tests=(\S*)`).FindStringSubmatch(status)
	if m == nil {
		t.Fatalf("X-Spam-Status %q", status)
	}
	score, _ = strconv.ParseFloat(m[1], 64)
	for _, tst := range strings.Split(m[2], ",") {
		if _, v, ok := strings.Cut(tst, "="); ok {
			x, _ := strconv.ParseFloat(v, 64)
			sum += x
		}
	}
	return sum, score
}

// TestMilterHeldKeepsSession: a copy the milter door holds keeps the
// session's client — address, HELO, the MTA's reverse name or that it
// found none — which the held bytes do not show (trial 26 T6); a report
// of it gives the desk that client as the origin (Held.Origin).
func TestMilterHeldKeepsSession(t *testing.T) {
	s, f, st := start(t, filter.Config{AuthServID: "mx.example.org"})
	ctx := context.Background()
	f.PutPolicy(ctx, filter.Policy{Kind: filter.ScopeDefault, Action: ptr(filter.ActionQuarantine)}, "t")
	for _, c := range []struct {
		host, want string
		none       bool
	}{{"client.example", "client.example", false}, {"[192.0.2.10]", "", true}} {
		cl := milter.NewClient("tcp", s.Addr().String(), milter.WithDialer(&net.Dialer{Timeout: 5 * time.Second}))
		ses, err := cl.Session(milter.NewMacroBag())
		if err != nil {
			t.Fatal(err)
		}
		ses.Conn(c.host, milter.FamilyInet, 4321, "192.0.2.10")
		ses.Helo("helo.client.example")
		ses.Mail("<sender@client.example>", "")
		ses.Rcpt("<erin@example.org>", "")
		ses.DataStart()
		for _, h := range hdr("held") {
			ses.HeaderField(h[0], h[1], nil)
		}
		ses.HeaderEnd()
		if _, act, err := ses.BodyReadFrom(strings.NewReader(filter.GTUBE + "\r\n")); err != nil || act.Type != milter.ActionDiscard {
			t.Fatalf("held: %+v %v", act, err)
		}
		ses.Close()
		hs, _ := st.HeldMessages(ctx, filter.HeldFilter{Limit: 1})
		if len(hs) != 1 {
			t.Fatal("nothing held")
		}
		if got, want := hs[0].Session, (filter.Session{IP: "192.0.2.10", Helo: "helo.client.example", Name: c.want, NoRDNS: c.none}); got != want {
			t.Errorf("MTA's name %q: session kept %+v, want %+v", c.host, got, want)
		}
		env, ok := hs[0].Origin()
		if !ok || env.RemoteIP.String() != "192.0.2.10" || env.HELO != "helo.client.example" || env.RDNS != c.want || env.NoRDNS != c.none || env.MailFrom != "sender@client.example" {
			t.Errorf("origin for the desk: %+v %v", env, ok)
		}
		st.SetHeldState(ctx, hs[0].ID, filter.StateHeld, filter.StateDeleted, "t", time.Now())
	}
}

// TestMilterSharedCopyKeepsListsPrivate: one copy goes to every
// delivered recipient, so a recipient's own list symbols are in its
// headers only when the copy is theirs alone — in a shared copy they told
// bob and dora whom ana blocks (trial 26 T9).
func TestMilterSharedCopyKeepsListsPrivate(t *testing.T) {
	s, f, _ := start(t, filter.Config{AuthServID: "mx.example.org"})
	ctx := context.Background()
	addr := s.Addr().String()
	f.PutPolicy(ctx, filter.Policy{Kind: filter.ScopeRecipient, Key: "ana@example.org", Block: []string{"client.example"}, Action: ptr(filter.ActionTag)}, "t")
	f.PutPolicy(ctx, filter.Policy{Kind: filter.ScopeRecipient, Key: "bob@example.org", Enabled: ptr(false)}, "t")
	r := send(t, addr, []string{"ana@example.org", "bob@example.org", "dora@example.net"}, hdr("lunch"), "see you at noon\r\n")
	if hs := added(r); strings.Contains(hs["X-Spam-Status"], filter.SymbolBlocked) || hs["X-Spam-Status"] == "" {
		t.Errorf("the copy shared with bob and dora names ana's block list: %v", hs)
	}
	r = send(t, addr, []string{"ana@example.org"}, hdr("lunch"), "see you at noon\r\n")
	if hs := added(r); !strings.Contains(hs["X-Spam-Status"], filter.SymbolBlocked+"=100.00") {
		t.Errorf("ana's own copy does not say why it is spam: %v", hs)
	}
}
