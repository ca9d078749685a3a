package filter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/campaign"
	"github.com/accord-antispam/accord/internal/classify"
	"github.com/accord-antispam/accord/internal/intel"
	"github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/resolve"
	"github.com/accord-antispam/accord/internal/rules"
)

func ptr[T any](v T) *T { return &v }

func TestPolicyPrecedence(t *testing.T) {
	def := &Policy{Kind: ScopeDefault, Spam: ptr(5.0), Action: ptr(ActionQuarantine), Block: []string{"spammer.example"}}
	dom := &Policy{Kind: ScopeDomain, Key: "example.org", Spam: ptr(4.0), Unsure: ptr(1.0), Allow: []string{"spammer.example"}}
	rc := &Policy{Kind: ScopeRecipient, Key: "ana@example.org", Spam: ptr(9.0), Enabled: ptr(false)}
	e := Resolve(Builtin(), def, dom, rc)
	if e.Spam != 9 || e.Unsure != 1 || e.Action != ActionQuarantine || e.Enabled || e.Quarantine != DefaultQuarantine {
		t.Fatalf("merged %+v", e)
	}
	want := map[string]string{"spam": "recipient:ana@example.org", "unsure": "domain:example.org", "action": "default", "enabled": "recipient:ana@example.org", "quarantine": "built-in"}
	for k, v := range want {
		if e.From[k] != v {
			t.Errorf("%s from %q, want %q", k, e.From[k], v)
		}
	}
	// Lists: the domain's allow entry (more specific) beats the default's
	// block entry — for an authenticated sender only.
	if lm := e.Match("news@spammer.example", true); !lm.Allowed || lm.Scope != "domain:example.org" {
		t.Errorf("authenticated sender: %+v", lm)
	}
	if lm := e.Match("news@spammer.example", false); !lm.Blocked || lm.Scope != "default" {
		t.Errorf("unauthenticated sender: %+v, want the default's block", lm)
	}
	// Within one scope, block beats allow.
	both := Resolve(Builtin(), nil, nil, &Policy{Kind: ScopeRecipient, Key: "a@b.example", Allow: []string{"x.example"}, Block: []string{"bad@x.example"}})
	if lm := both.Match("bad@x.example", true); !lm.Blocked {
		t.Errorf("block within the same scope: %+v", lm)
	}
	if lm := both.Match("good@sub.x.example", true); !lm.Allowed {
		t.Errorf("a domain entry covers subdomains: %+v", lm)
	}
	// Nothing set: the built-in values.
	b := Resolve(Builtin(), nil, nil, nil)
	if b.Spam != DefaultSpam || b.Action != ActionTag || !b.Enabled {
		t.Errorf("built-in: %+v", b)
	}
}

func TestPolicyValidate(t *testing.T) {
	bad := []Policy{
		{Kind: "user", Key: "x"},
		{Kind: ScopeDomain, Key: "a@b"},
		{Kind: ScopeRecipient, Key: "not an address"},
		{Kind: ScopeDefault, Action: ptr("discard")},
		{Kind: ScopeDefault, Spam: ptr(1e9)},
		{Kind: ScopeDefault, Allow: []string{"localhost"}},
	}
	for _, p := range bad {
		if err := p.Validate(); !errors.Is(err, ErrPolicy) {
			t.Errorf("%+v: %v, want ErrPolicy", p, err)
		}
	}
	p := Policy{Kind: ScopeRecipient, Key: " <Ana@Example.ORG> ", Allow: []string{"X@Y.example", "x@y.example", "Z.example."}}
	if err := p.Validate(); err != nil || p.Key != "ana@example.org" || len(p.Allow) != 2 {
		t.Errorf("normalised: %+v %v", p, err)
	}
}

type fakeOut struct {
	mu    sync.Mutex
	sent  []string
	fail  error
	queue bool // answer "queued", as the node's outbound queue does
}

func (f *fakeOut) Deliver(_ context.Context, _, from string, to []string, raw []byte) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return false, f.fail
	}
	f.sent = append(f.sent, strings.Join(to, ",")+"|"+string(raw))
	return f.queue, nil
}

func analyzer(t testing.TB, r resolve.Resolver) *analysis.Analyzer {
	lib, err := rules.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	if r == nil {
		r = resolve.Offline{}
	}
	return &analysis.Analyzer{Rules: lib, Resolver: r}
}

func newService(t testing.TB, d Deps, cfg Config) (*Service, *MemStore) {
	st := NewMemStore()
	if d.Store == nil {
		d.Store = st
	}
	if d.Analyzer == nil {
		d.Analyzer = analyzer(t, nil)
	}
	if d.Secret == nil {
		d.Secret = []byte("test secret")
	}
	s, err := New(context.Background(), cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	return s, st
}

func msg(from, subject, body string) []byte {
	return []byte(fmt.Sprintf("From: %s\r\nTo: ana@example.org\r\nSubject: %s\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\nMessage-ID: <%d@x.example>\r\n\r\n%s\r\n", from, subject, rand.Int(), body))
}

func symbolNames(d *Decision) string {
	var n []string
	for _, s := range d.Symbols {
		n = append(n, s.Name)
	}
	return strings.Join(n, ",")
}

func TestGTUBEAndHeaders(t *testing.T) {
	s, _ := newService(t, Deps{}, Config{AuthServID: "mx.example.org", Version: "test"})
	d, err := s.Check(context.Background(), msg("a@b.example", "test", "hello "+GTUBE), Envelope{Rcpts: []string{"ana@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	// The built-in policy tags spam and quarantines it from 8 points.
	if d.Score < 1000 || d.Outcome != OutcomeQuarantine || !strings.Contains(symbolNames(d), "GTUBE") {
		t.Fatalf("GTUBE: outcome %s score %v symbols %s", d.Outcome, d.Score, symbolNames(d))
	}
	hs := s.Headers(d, d.Outcome)
	got := map[string]string{}
	for _, h := range hs {
		got[h.Name] = h.Value
	}
	if got["X-Spam-Flag"] != "YES" || !strings.HasPrefix(got["X-Spam-Status"], "Yes, score=10") || !strings.Contains(got["X-Spam-Status"], "GTUBE=1000.00") ||
		got["X-Accord-Reference"] != d.Reference || !strings.HasPrefix(got["Authentication-Results"], "mx.example.org;") {
		t.Errorf("headers %v", got)
	}
	ham, _ := s.Check(context.Background(), msg("a@b.example", "lunch", "see you at noon"), Envelope{Rcpts: []string{"ana@example.org"}})
	if ham.Outcome == OutcomeSpam || ham.Outcome == OutcomeQuarantine {
		t.Errorf("plain message with an untrained model: %s (%s)", ham.Outcome, symbolNames(ham))
	}
	// SpamAssassin's value space in X-Spam-Status (Yes or No, which Sieve
	// and procmail rules test), whatever Accord's band: an unsure message
	// (score 0 on a fresh install) is "No", and unsure in X-Accord-Status.
	for outcome, want := range map[string][2]string{OutcomeHam: {"No, score=", "ham"}, OutcomeUnsure: {"No, score=", "unsure"},
		OutcomeSpam: {"Yes, score=", "spam"}, OutcomeQuarantine: {"Yes, score=", "spam"}} {
		got := map[string]string{}
		for _, h := range s.Headers(ham, outcome) {
			got[h.Name] = h.Value
		}
		if !strings.HasPrefix(got["X-Spam-Status"], want[0]) || got["X-Accord-Status"] != want[1] {
			t.Errorf("%s: X-Spam-Status %q, X-Accord-Status %q; want %q…, %q", outcome, got["X-Spam-Status"], got["X-Accord-Status"], want[0], want[1])
		}
	}
	if !s.OwnAuthResults("mx.example.org; spf=pass") || s.OwnAuthResults("other.example; spf=pass") {
		t.Error("OwnAuthResults")
	}
}

func TestActionsPerRecipient(t *testing.T) {
	s, _ := newService(t, Deps{}, Config{})
	ctx := context.Background()
	s.PutPolicy(ctx, Policy{Kind: ScopeRecipient, Key: "q@example.org", Action: ptr(ActionQuarantine)}, "test")
	s.PutPolicy(ctx, Policy{Kind: ScopeRecipient, Key: "r@example.org", Action: ptr(ActionReject)}, "test")
	s.PutPolicy(ctx, Policy{Kind: ScopeRecipient, Key: "off@example.org", Enabled: ptr(false)}, "test")
	s.PutPolicy(ctx, Policy{Kind: ScopeRecipient, Key: "b@example.org", Block: []string{"friend.example"}}, "test")
	d, err := s.Check(ctx, msg("x@friend.example", "hi", GTUBE), Envelope{Rcpts: []string{"t@example.org", "q@example.org", "r@example.org", "off@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"t@example.org": OutcomeQuarantine, "q@example.org": OutcomeQuarantine, "r@example.org": OutcomeReject, "off@example.org": OutcomeOff}
	for _, r := range d.Recipients {
		if r.Outcome != want[r.Recipient] {
			t.Errorf("%s: %s, want %s", r.Recipient, r.Outcome, want[r.Recipient])
		}
	}
	if d.Outcome != OutcomeOff {
		t.Errorf("message outcome %s, want the mildest (off)", d.Outcome)
	}
	// A blocked sender is spam for the recipient who blocked it only.
	d, _ = s.Check(ctx, msg("x@friend.example", "lunch", "see you"), Envelope{Rcpts: []string{"b@example.org", "t@example.org"}})
	for _, r := range d.Recipients {
		if (r.Recipient == "b@example.org") != (r.Outcome == OutcomeSpam) {
			t.Errorf("%s: %s (%s)", r.Recipient, r.Outcome, r.Why)
		}
	}
}

// A model that knows spam and ham well enough to decide.
func trainedModel(t testing.TB) *classify.Model {
	m := classify.New(classify.Params{Bits: 16})
	r := rand.New(rand.NewSource(1))
	spamW := []string{"viagra", "cheap", "pills", "winner", "casino", "offer"}
	hamW := []string{"meeting", "patch", "review", "kernel", "agenda", "lunch"}
	for i := 0; i < 200; i++ {
		w := hamW
		if i%2 == 0 {
			w = spamW
		}
		var b strings.Builder
		for j := 0; j < 30; j++ {
			b.WriteString(w[r.Intn(len(w))] + " ")
		}
		raw := msg("s@x.example", w[0], b.String())
		mm := mail.ParseBytes(raw, mail.Limits{})
		m.LearnMessage(classify.Digest(raw), m.Extract(mm, false), i%2 == 0)
	}
	if err := m.Rebuild(); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestQuarantineReleaseLearns(t *testing.T) {
	out := &fakeOut{}
	s, st := newService(t, Deps{Model: trainedModel(t), Outbound: out}, Config{})
	ctx := context.Background()
	s.PutPolicy(ctx, Policy{Kind: ScopeDomain, Key: "example.org", Action: ptr(ActionQuarantine)}, "test")
	raw := msg("s@x.example", "viagra", strings.Repeat("viagra cheap pills casino winner offer ", 5))
	d, err := s.Check(ctx, raw, Envelope{MailFrom: "s@x.example", Rcpts: []string{"ana@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	if d.Outcome != OutcomeQuarantine {
		t.Fatalf("outcome %s score %v (%s)", d.Outcome, d.Score, symbolNames(d))
	}
	ids, err := s.Quarantine(ctx, d, []string{"ana@example.org"})
	if err != nil || len(ids) != 1 {
		t.Fatal(ids, err)
	}
	ana := Actor{Label: "user:ana", Mailbox: "ana@example.org"}
	bob := Actor{Label: "user:bob", Mailbox: "bob@example.org"}
	admin := Actor{Label: "user:root", Admin: true}
	if l, _ := s.List(ctx, bob, HeldFilter{}); len(l) != 0 {
		t.Errorf("bob sees %d of ana's messages", len(l))
	}
	if _, err := s.Show(ctx, bob, ids[0]); !errors.Is(err, ErrNotFound) {
		t.Errorf("bob reads ana's message: %v", err)
	}
	if _, err := s.Release(ctx, bob, ids[0]); !errors.Is(err, ErrNotFound) {
		t.Errorf("bob releases ana's message: %v", err)
	}
	h, err := s.Show(ctx, ana, ids[0])
	if err != nil || !bytes.Equal(h.Raw, raw) {
		t.Fatalf("ana reads her message: %v", err)
	}
	if log, _ := st.FilterAuditLog(ctx, ids[0], 0); len(log) != 0 {
		t.Errorf("the recipient's own read was audited: %+v", log)
	}
	if _, err := s.Show(ctx, admin, ids[0]); err != nil {
		t.Fatal(err)
	}
	if log, _ := st.FilterAuditLog(ctx, ids[0], 0); len(log) != 1 || log[0].Action != "quarantine.read" || log[0].Actor != "user:root" {
		t.Errorf("an administrator's read is not audited: %+v", log)
	}
	before := s.Model().Score(s.Model().Extract(mail.ParseBytes(raw, mail.Limits{}), false), false).Score
	// Release fails while the relay fails, and the message stays held.
	out.fail = errors.New("relay down")
	if _, err := s.Release(ctx, ana, ids[0]); err == nil {
		t.Fatal("release with a failing relay succeeded")
	}
	out.fail = nil
	if state, err := s.Release(ctx, ana, ids[0]); err != nil || state != StateReleased {
		t.Fatal(state, err)
	}
	if len(out.sent) != 1 || !strings.HasPrefix(out.sent[0], "ana@example.org|") {
		t.Fatalf("sent %v", out.sent)
	}
	if _, err := s.Release(ctx, ana, ids[0]); err == nil {
		t.Error("a second release succeeded")
	}
	after := s.Model().Score(s.Model().Extract(mail.ParseBytes(raw, mail.Limits{}), false), false).Score
	if after >= before {
		t.Errorf("releasing did not teach the filter: score %v → %v", before, after)
	}
	if recs, _, _ := st.LearnedSince(ctx, 0, modelID(s.Model())); len(recs) != 1 || recs[0].Spam || recs[0].Source != "release" {
		t.Errorf("learned records %+v", recs)
	}
}

func TestDigestToken(t *testing.T) {
	now := time.Unix(1800000000, 0)
	s, _ := newService(t, Deps{Now: func() time.Time { return now }}, Config{})
	tok := s.DigestToken("q-abc", now.Add(time.Hour))
	if id, err := s.CheckToken(tok); err != nil || id != "q-abc" {
		t.Fatalf("%q %v", id, err)
	}
	for _, bad := range []string{tok + "x", strings.Replace(tok, "q-abc", "q-abd", 1), "", "q-abc.1.2", s.DigestToken("q-abc", now.Add(-time.Second))} {
		if _, err := s.CheckToken(bad); !errors.Is(err, ErrBadToken) {
			t.Errorf("%q accepted", bad)
		}
	}
	other, _ := newService(t, Deps{Secret: []byte("another node")}, Config{})
	if _, err := other.CheckToken(tok); err == nil {
		t.Error("a token signed by another node was accepted")
	}
}

func TestIntelTLPAndCampaign(t *testing.T) {
	s, _ := newService(t, Deps{}, Config{})
	set, _ := intel.NewSet([]intel.Indicator{
		{Type: intel.LinkDomain, Value: "pills.example", Source: intel.Source{Kind: "partner", Partner: "us", Agreement: "FR-US-1", TLP: "amber"}},
		{Type: intel.SenderDom, Value: "promo.example", Source: intel.Source{Kind: "partner", Partner: "de", Agreement: "FR-DE-1", TLP: "green"}},
	}, time.Now())
	s.SetIntel(set)
	raw := msg("deals@promo.example", "offer", "buy at https://pills.example/now please")
	d, err := s.Check(context.Background(), raw, Envelope{Rcpts: []string{"ana@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	names := symbolNames(d)
	if !strings.Contains(names, "INTEL_LINK_DOMAIN") || !strings.Contains(names, "INTEL_SENDER_DOMAIN") {
		t.Fatalf("symbols %s", names)
	}
	var hdr strings.Builder
	for _, h := range s.Headers(d, d.Outcome) {
		hdr.WriteString(h.Name + ": " + h.Value + "\n")
	}
	if strings.Contains(hdr.String(), "INTEL_LINK_DOMAIN") || strings.Contains(hdr.String(), "pills.example") || strings.Contains(hdr.String(), "FR-US-1") {
		t.Errorf("an AMBER indicator leaks into the headers:\n%s", hdr.String())
	}
	if !strings.Contains(hdr.String(), "INTEL_SENDER_DOMAIN") || !strings.Contains(hdr.String(), "ACCORD_INTEL_RESTRICTED") {
		t.Errorf("headers:\n%s", hdr.String())
	}
	for _, sy := range d.Symbols {
		if sy.Name == "INTEL_LINK_DOMAIN" && (!strings.Contains(sy.Description, "us") || !strings.Contains(sy.Description, "FR-US-1")) {
			t.Errorf("the explanation lacks the source: %q", sy.Description)
		}
	}
}

func TestTooLargeAndTimeout(t *testing.T) {
	s, _ := newService(t, Deps{}, Config{MaxScan: 1000})
	big := msg("a@b.example", "big", strings.Repeat("x", 2000)+" "+GTUBE)
	d, err := s.Check(context.Background(), big, Envelope{Rcpts: []string{"ana@example.org"}})
	if err != nil || d.Skipped != "too-large" || d.Outcome != OutcomeHam {
		t.Fatalf("%+v %v", d, err)
	}
	if h := s.Headers(d, d.Outcome); len(h) != 1 || !strings.Contains(h[0].Value, "too-large") {
		t.Errorf("headers %v", h)
	}
	// A resolver that never answers: the decision times out and fails
	// open — but what it found before (GTUBE) and the recipient's block
	// list still decide.
	slow, _ := newService(t, Deps{Analyzer: analyzer(t, hang{})}, Config{Timeout: 50 * time.Millisecond})
	d, err = slow.Check(context.Background(), msg("a@b.example", "x", "y"), Envelope{IP: netip.MustParseAddr("192.0.2.1"), MailFrom: "a@b.example", Rcpts: []string{"ana@example.org"}})
	if err != nil || d.Skipped != "timeout" || slow.TimedOut(d) || d.Outcome != OutcomeHam {
		t.Fatalf("timeout: %+v %v", d, err)
	}
	d, err = slow.Check(context.Background(), msg("a@b.example", "x", GTUBE), Envelope{IP: netip.MustParseAddr("192.0.2.1"), MailFrom: "a@b.example", Rcpts: []string{"ana@example.org"}})
	if err != nil || d.Skipped != "timeout" || d.Outcome != OutcomeQuarantine {
		t.Fatalf("GTUBE on a timeout: %s %v", d.Outcome, err)
	}
	if h := slow.Headers(d, OutcomeSpam); len(h) < 3 || h[0].Value != "YES" || !strings.HasPrefix(h[len(h)-1].Value, "partial: timeout") {
		t.Errorf("headers of a decisive timeout: %v", h)
	}
	slow.PutPolicy(context.Background(), Policy{Kind: ScopeRecipient, Key: "ana@example.org", Block: []string{"b.example"}, Action: ptr(ActionReject)}, "t")
	d, _ = slow.Check(context.Background(), msg("a@b.example", "x", "y"), Envelope{IP: netip.MustParseAddr("192.0.2.1"), MailFrom: "a@b.example", Rcpts: []string{"ana@example.org"}})
	if d.Outcome != OutcomeReject {
		t.Errorf("a blocked sender on a timeout: %s", d.Outcome)
	}
	tf, _ := newService(t, Deps{Analyzer: analyzer(t, hang{})}, Config{Timeout: 50 * time.Millisecond, TempFailOnTimeout: true})
	d, _ = tf.Check(context.Background(), msg("a@b.example", "x", "y"), Envelope{IP: netip.MustParseAddr("192.0.2.1"), MailFrom: "a@b.example"})
	if !tf.TimedOut(d) {
		t.Error("tempfail on timeout not reported")
	}
}

// hang is a resolver that answers only when the context ends.
type hang struct{}

func (hang) LookupTXT(ctx context.Context, name string) ([]string, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (hang) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (hang) LookupIPAddr(ctx context.Context, name string) ([]net.IPAddr, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (hang) LookupAddr(ctx context.Context, name string) ([]string, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

type notes struct{ to, subject, text []string }

func (n *notes) Notify(_ context.Context, to, subject, text string) error {
	n.to, n.subject, n.text = append(n.to, to), append(n.subject, subject), append(n.text, text)
	return nil
}

func TestDigests(t *testing.T) {
	s, _ := newService(t, Deps{}, Config{})
	ctx := context.Background()
	s.PutPolicy(ctx, Policy{Kind: ScopeDefault, Action: ptr(ActionQuarantine)}, "t")
	for _, rc := range []string{"ana@example.org", "bob@example.org", "ana@example.org"} {
		d, _ := s.Check(ctx, msg("x@y.example", "held", GTUBE), Envelope{Rcpts: []string{rc}})
		if _, err := s.Quarantine(ctx, d, []string{rc}); err != nil {
			t.Fatal(err)
		}
	}
	n := &notes{}
	sent, err := s.SendDigests(ctx, "https://node.example", n)
	if err != nil || sent != 2 {
		t.Fatalf("sent %d %v", sent, err)
	}
	for i, to := range n.to {
		links := strings.Count(n.text[i], "https://node.example/q/release?t=")
		want := map[string]int{"ana@example.org": 2, "bob@example.org": 1}[to]
		if links != want {
			t.Errorf("%s: %d links, want %d:\n%s", to, links, want, n.text[i])
		}
		// Each link's token names one of this recipient's messages.
		for _, line := range strings.Split(n.text[i], "\n") {
			if tok, ok := strings.CutPrefix(line, "Release: https://node.example/q/release?t="); ok {
				id, err := s.CheckToken(tok)
				if err != nil {
					t.Fatal(err)
				}
				h, _ := s.store.HeldMessage(ctx, id)
				if h.Recipient != to {
					t.Errorf("a link in %s's digest names %s's message", to, h.Recipient)
				}
			}
		}
	}
}

// TestCampaignMatch: a near-duplicate of a campaign the desk confirmed
// gets ACCORD_CAMPAIGN naming it; an unrelated message does not.
func TestCampaignMatch(t *testing.T) {
	s, _ := newService(t, Deps{}, Config{CampaignWeight: 6})
	text := "Dear friend, our online pharmacy ships genuine pills overnight without prescription. " +
		"Order today and save seventy percent on every bottle, discreet packaging guaranteed to your door."
	sig := campaign.Sign(text, []string{"pills-now.example"}, "shop.example", "")
	s.SetCampaigns([]Campaign{{ID: "c-pharma", Reports: 12, Signature: sig}})
	variant := strings.Replace(text, "seventy", "eighty", 1) + " Visit https://pills-now.example/order today."
	d, err := s.Check(context.Background(), msg("news@shop.example", "Your order", variant), Envelope{Rcpts: []string{"ana@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, sy := range d.Symbols {
		if sy.Name == "ACCORD_CAMPAIGN" {
			found = sy.Score == 6 && strings.Contains(sy.Description, "c-pharma") && len(sy.Options) == 1 && sy.Options[0] == "c-pharma"
		}
	}
	if !found {
		t.Errorf("near-duplicate: symbols %s", symbolNames(d))
	}
	d, _ = s.Check(context.Background(), msg("colleague@work.example", "Build", "The nightly build failed on the arm runner; I will look at the linker flags after lunch."), Envelope{Rcpts: []string{"ana@example.org"}})
	if strings.Contains(symbolNames(d), "ACCORD_CAMPAIGN") {
		t.Errorf("unrelated message matched a campaign: %s", symbolNames(d))
	}
}

// TestNoRecipientHeldCopy: a copy held for no recipient (as the rspamd
// door held them before such mail was tagged instead) is still read by an
// administrator only with an audit event — the check compared the
// reader's empty mailbox with the copy's empty recipient and took the
// administrator for the recipient — and Quarantine refuses to make one.
func TestNoRecipientHeldCopy(t *testing.T) {
	s, st := newService(t, Deps{}, Config{})
	ctx := context.Background()
	now := time.Now()
	if err := st.Hold(ctx, Held{ID: "q-old", Raw: []byte("Subject: x\r\n\r\nx\r\n"), Size: 17, State: StateHeld,
		ReceivedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Show(ctx, Actor{Label: "cli", Admin: true}, "q-old"); err != nil {
		t.Fatal(err)
	}
	if log, _ := st.FilterAuditLog(ctx, "q-old", 0); len(log) != 1 || log[0].Action != "quarantine.read" || log[0].Actor != "cli" {
		t.Errorf("an administrator's read of a copy held for no recipient: audit %+v, want one quarantine.read", log)
	}
	d, err := s.Check(ctx, msg("s@sender.example", "test", GTUBE), Envelope{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Outcome != OutcomeSpam || !strings.Contains(symbolNames(d), SymbolNoRecipient) {
		t.Errorf("GTUBE for no recipient: %s (%s), want spam with %s", d.Outcome, symbolNames(d), SymbolNoRecipient)
	}
	if ids, err := s.Quarantine(ctx, d, []string{""}); !errors.Is(err, ErrNoRecipient) || len(ids) != 0 {
		t.Errorf("held for no recipient: %v %v", ids, err)
	}
}

// TestPolicyOnSubAddress: PutPolicy (the CLI's and the API's way in)
// refuses a recipient scope that checks would never look up.
func TestPolicyOnSubAddress(t *testing.T) {
	s, _ := newService(t, Deps{}, Config{})
	ctx := context.Background()
	if _, err := s.PutPolicy(ctx, Policy{Kind: ScopeRecipient, Key: "Ana+x@Example.org", Spam: ptr(6.0)}, "t"); !errors.Is(err, ErrPolicy) || !strings.Contains(err.Error(), "ana@example.org") {
		t.Errorf("policy on a sub-address: %v", err)
	}
	if _, err := s.PutPolicy(ctx, Policy{Kind: ScopeRecipient, Key: "ana@example.org.", Spam: ptr(6.0)}, "t"); !errors.Is(err, ErrPolicy) {
		t.Errorf("policy on a domain with a trailing dot: %v", err)
	}
	if _, err := s.PutPolicy(ctx, Policy{Kind: ScopeRecipient, Key: "Ana@Example.org", Spam: ptr(6.0)}, "t"); err != nil {
		t.Fatal(err)
	}
	if e := s.Effective(s.Mailbox("ana+x@example.org")); e.Spam != 6 {
		t.Errorf("ana+x gets spam %v, want her mailbox's 6", e.Spam)
	}
	none, _ := newService(t, Deps{}, Config{RecipientDelimiter: "none"})
	if _, err := none.PutPolicy(ctx, Policy{Kind: ScopeRecipient, Key: "ana+x@example.org", Spam: ptr(6.0)}, "t"); err != nil {
		t.Errorf("with no delimiter a + address is a mailbox: %v", err)
	}
}

// TestAllowAgainstABlockingDomain: a recipient's allow entry for a sender
// its domain blocks decides for an authenticated sender (the first scope
// with an entry that counts); for one the node did not authenticate the
// entry does not count and the domain's block decides, saying so.
func TestAllowAgainstABlockingDomain(t *testing.T) {
	dom := &Policy{Kind: ScopeDomain, Key: "example.org", Block: []string{"news.example"}}
	rc := &Policy{Kind: ScopeRecipient, Key: "ana@example.org", Allow: []string{"news.example"}}
	e := Resolve(Builtin(), nil, dom, rc)
	if lm := e.Match("a@news.example", true); !lm.Allowed || lm.Scope != "recipient:ana@example.org" {
		t.Errorf("authenticated: %+v, want the recipient's allow", lm)
	}
	if lm := e.Match("a@news.example", false); !lm.Blocked || !lm.Unverified || lm.Scope != "domain:example.org" {
		t.Errorf("not authenticated: %+v, want the domain's block, the allow entry unverified", lm)
	}
}

// TestThresholdsInOrder: `policy set --unsure 10 --spam 2` and
// `--quarantine -5` were taken; a policy's own thresholds out of order
// are refused.
func TestThresholdsInOrder(t *testing.T) {
	s, _ := newService(t, Deps{}, Config{})
	ctx := context.Background()
	for name, p := range map[string]Policy{
		"unsure above spam":     {Kind: ScopeRecipient, Key: "ana@example.org", Unsure: ptr(10.0), Spam: ptr(2.0)},
		"negative quarantine":   {Kind: ScopeRecipient, Key: "ana@example.org", Quarantine: ptr(-5.0)},
		"quarantine below spam": {Kind: ScopeDomain, Key: "example.org", Spam: ptr(20.0), Quarantine: ptr(15.0)},
	} {
		if _, err := s.PutPolicy(ctx, p, "t"); !errors.Is(err, ErrPolicy) {
			t.Errorf("%s: %v, want refused", name, err)
		}
	}
	for name, p := range map[string]Policy{
		"in order":           {Kind: ScopeRecipient, Key: "ana@example.org", Unsure: ptr(1.0), Spam: ptr(4.0), Quarantine: ptr(9.0)},
		"quarantine off":     {Kind: ScopeDomain, Key: "example.org", Spam: ptr(20.0), Quarantine: ptr(0.0)},
		"everything is spam": {Kind: ScopeRecipient, Key: "bob@example.org", Spam: ptr(-50.0)},
	} {
		if _, err := s.PutPolicy(ctx, p, "t"); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A blocklist that fails — a server failure, or an answer that only
// refuses this node's query — is left out of the score but said, by
// name, in DNSBL_ERROR; before, it vanished without a symbol or a line.
func TestDNSBLErrorSaid(t *testing.T) {
	z := &resolve.Zone{}
	z.AddFail("7.113.0.203.broken.test")
	z.AddIP("7.113.0.203.refusing.test", netip.MustParseAddr("127.255.255.254"))
	z.AddIP("7.113.0.203.good.test", netip.MustParseAddr("127.0.0.2"))
	bl := &intel.DNSBL{Resolver: z, Lists: []intel.List{{Name: "broken", Zone: "broken.test"}, {Name: "refusing", Zone: "refusing.test"}, {Name: "good", Zone: "good.test"}}}
	s, _ := newService(t, Deps{DNSBL: bl}, Config{AuthServID: "mx.example.org"})
	d, err := s.Check(context.Background(), msg("a@b.example", "lunch", "see you at noon"), Envelope{IP: netip.MustParseAddr("203.0.113.7"), Rcpts: []string{"ana@example.org"}})
	if err != nil {
		t.Fatal(err)
	}
	var errSym *Symbol
	for i, sy := range d.Symbols {
		if sy.Name == "DNSBL_ERROR" {
			errSym = &d.Symbols[i]
		}
	}
	if errSym == nil || errSym.Score != 0 || !slices.Equal(errSym.Options, []string{"broken", "refusing"}) || strings.Contains(errSym.Description, "203.0.113") {
		t.Fatalf("DNSBL_ERROR %+v (symbols %s)", errSym, symbolNames(d))
	}
	if !strings.Contains(symbolNames(d), "RBL_GOOD") {
		t.Errorf("the working list's hit is missing: %s", symbolNames(d))
	}
}
