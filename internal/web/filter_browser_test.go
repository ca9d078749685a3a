package web_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http/httptest"
	"net/smtp"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	gosmtp "github.com/emersion/go-smtp"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/filter"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/resolve"
	"github.com/accord-antispam/accord/internal/rules"
	"github.com/accord-antispam/accord/internal/store/sqlite"
	"github.com/accord-antispam/accord/internal/web"
)

// mailSink is an SMTP server on loopback that keeps what it receives.
type mailSink struct {
	mu   sync.Mutex
	got  [][]byte
	addr string
}

func (m *mailSink) NewSession(*gosmtp.Conn) (gosmtp.Session, error) { return &mailSinkSession{m}, nil }

type mailSinkSession struct{ m *mailSink }

func (s *mailSinkSession) AuthPlain(string, string) error         { return nil }
func (s *mailSinkSession) Mail(string, *gosmtp.MailOptions) error { return nil }
func (s *mailSinkSession) Rcpt(string, *gosmtp.RcptOptions) error { return nil }
func (s *mailSinkSession) Reset()                                 {}
func (s *mailSinkSession) Logout() error                          { return nil }
func (s *mailSinkSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	s.m.mu.Lock()
	s.m.got = append(s.m.got, b)
	s.m.mu.Unlock()
	return err
}

func (m *mailSink) has(marker string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, g := range m.got {
		if bytes.Contains(g, []byte(marker)) {
			return true
		}
	}
	return false
}

// sinkRelay hands released mail to the sink over SMTP, as the node's
// outbound relay does.
type sinkRelay struct{ addr string }

func (r sinkRelay) Deliver(_ context.Context, _, from string, to []string, raw []byte) (bool, error) {
	return false, smtp.SendMail(r.addr, nil, from, to, raw)
}

// TestBrowserMailboxOwner: in headless Chromium, a mailbox owner signs
// in, changes their spam threshold, and releases a held message, which
// arrives at the SMTP sink; the filter learns it as ham.
func TestBrowserMailboxOwner(t *testing.T) {
	ctx := context.Background()
	sk := &mailSink{}
	sl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ss := gosmtp.NewServer(sk)
	ss.Domain = "sink.test"
	go ss.Serve(sl)
	t.Cleanup(func() { ss.Close() })

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
	f, err := filter.New(ctx, filter.Config{AuthServID: "mx.example.org"}, filter.Deps{Analyzer: an, Store: st,
		Outbound: sinkRelay{sl.Addr().String()}, Secret: []byte("release secret")})
	if err != nil {
		t.Fatal(err)
	}
	s, err := web.New(d, st, web.Config{Filter: f}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() { srv.Close(); d.Close(); st.Close() })

	h, _ := access.HashPassword("a long passphrase")
	st.CreateUser(ctx, access.User{Name: "ana@example.org", PasswordHash: h, Role: access.Mailbox, CreatedAt: time.Now()})
	f.PutPolicy(ctx, filter.Policy{Kind: filter.ScopeDomain, Key: "example.org", Action: ptrs(filter.ActionQuarantine)}, "test")
	raw := []byte("From: Promo <deals@promo.example>\r\nTo: ana@example.org\r\nSubject: held-for-ana\r\nMessage-ID: <h1@promo.example>\r\n\r\nHello " + filter.GTUBE + "\r\nmarker-7c1f\r\n")
	dec, err := f.Check(ctx, raw, filter.Envelope{MailFrom: "deals@promo.example", Rcpts: []string{"ana@example.org"}})
	if err != nil || dec.Outcome != filter.OutcomeQuarantine {
		t.Fatalf("decision %+v %v", dec, err)
	}
	ids, err := f.Quarantine(ctx, dec, []string{"ana@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	raw2 := []byte("From: Pills <x@pills.example>\r\nTo: ana@example.org\r\nSubject: report-me\r\nMessage-ID: <h2@pills.example>\r\n\r\nBuy now " + filter.GTUBE + "\r\n")
	dec2, _ := f.Check(ctx, raw2, filter.Envelope{MailFrom: "x@pills.example", Rcpts: []string{"ana@example.org"}})
	ids2, err := f.Quarantine(ctx, dec2, []string{"ana@example.org"})
	if err != nil {
		t.Fatal(err)
	}

	bctx, _ := chromium(t)
	release := chromedp.CSS(`tr[data-id="` + ids[0] + `"] button.release`)
	err = chromedp.Do(bctx,
		chromedp.Navigate(srv.URL+"/login"),
		chromedp.SendKeys(chromedp.ID("user"), "ana@example.org"),
		chromedp.SendKeys(chromedp.ID("password"), "a long passphrase"),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.ID("policy")),
		chromedp.SetValue(chromedp.ID("spam"), "4.5"),
		chromedp.Click(chromedp.ID("save")),
		chromedp.WaitVisible(chromedp.ID("notice")),
	)
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.Policy(ctx, filter.ScopeRecipient, "ana@example.org")
	if err != nil || p.Spam == nil || *p.Spam != 4.5 || p.UpdatedBy != "user:ana@example.org" {
		t.Fatalf("the owner's threshold was not saved: %+v %v", p, err)
	}
	if e := f.Effective("ana@example.org"); e.Spam != 4.5 || e.From["spam"] != "recipient:ana@example.org" || e.Action != filter.ActionQuarantine {
		t.Errorf("what applies now: %+v", e)
	}
	err = chromedp.Do(bctx,
		chromedp.WaitVisible(release),
		chromedp.Click(release),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="notice" and contains(., "released")]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	end := time.Now().Add(10 * time.Second)
	for !sk.has("marker-7c1f") && time.Now().Before(end) {
		time.Sleep(50 * time.Millisecond)
	}
	if !sk.has("marker-7c1f") {
		t.Fatal("the released message never reached the sink")
	}
	held, _ := f.Store().HeldMessage(ctx, ids[0])
	if held.State != filter.StateReleased || held.ActedBy != "user:ana@example.org" {
		t.Errorf("after release: state %s by %s", held.State, held.ActedBy)
	}
	recs, _, _ := f.Store().LearnedSince(ctx, 0, "bits=20")
	if len(recs) != 1 || recs[0].Spam || recs[0].Source != "release" {
		t.Errorf("a release did not teach the filter: %+v", recs)
	}
	// Nothing for ana remains held; another mailbox sees nothing of hers.
	// Report to the authority: the second held message becomes a report
	// at the desk, from ana, and leaves her quarantine.
	report := chromedp.CSS(`tr[data-id="` + ids2[0] + `"] button.report`)
	err = chromedp.Do(bctx,
		chromedp.WaitVisible(report),
		chromedp.Click(report),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="notice" and contains(., "reported")]`)),
	)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := st.CountReports(ctx); n != 1 {
		t.Errorf("%d reports at the desk after reporting, want 1", n)
	}
	// Audited as a report to the authority, naming the complaint, not as a deletion.
	if log, _ := f.Store().FilterAuditLog(ctx, ids2[0], 0); len(log) != 1 || log[0].Action != "quarantine.report" ||
		!strings.Contains(log[0].Detail, "complaint ") {
		t.Errorf("audit of the report: %+v", log)
	}
	rows, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("#held tr[data-id]").length`))
	if err != nil || rows != 0 {
		t.Errorf("%d held rows after release and report", rows)
	}
}

func ptrs(s string) *string { return &s }

// TestDigestLinkNeedsPOST: a release link from a digest shows a page on
// GET (a link scanner's fetch) and releases nothing; the page's POST
// releases; a forged token does nothing.
func TestDigestLinkNeedsPOST(t *testing.T) {
	ctx := context.Background()
	sk := &mailSink{}
	sl, _ := net.Listen("tcp", "127.0.0.1:0")
	ss := gosmtp.NewServer(sk)
	go ss.Serve(sl)
	t.Cleanup(func() { ss.Close() })
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "accord.db"))
	if err != nil {
		t.Fatal(err)
	}
	lib, _ := rules.Embedded()
	an := &analysis.Analyzer{Rules: lib, Resolver: resolve.Offline{}}
	d, _ := intake.New(st, an, intake.Options{Secret: []byte("0123456789abcdef0123456789abcdef")})
	f, _ := filter.New(ctx, filter.Config{}, filter.Deps{Analyzer: an, Store: st, Outbound: sinkRelay{sl.Addr().String()}, Secret: []byte("k")})
	s, _ := web.New(d, st, web.Config{Filter: f}, nil)
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() { srv.Close(); d.Close(); st.Close() })
	f.PutPolicy(ctx, filter.Policy{Kind: filter.ScopeDefault, Action: ptrs(filter.ActionQuarantine)}, "t")
	dec, _ := f.Check(ctx, []byte("From: a@b.example\r\nSubject: digest-me\r\n\r\n"+filter.GTUBE+" marker-d1g\r\n"), filter.Envelope{Rcpts: []string{"bob@example.org"}})
	ids, err := f.Quarantine(ctx, dec, []string{"bob@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	tok := f.DigestToken(ids[0], time.Now().Add(time.Hour))
	c := browser(t)
	r := get(t, c, srv.URL+"/q/release?t="+tok)
	if r.status != 200 || !strings.Contains(string(r.body), "digest-me") || !strings.Contains(string(r.body), `method="post"`) {
		t.Fatalf("GET: %d %s", r.status, r.body)
	}
	time.Sleep(300 * time.Millisecond)
	if h, _ := f.Store().HeldMessage(ctx, ids[0]); h.State != filter.StateHeld || sk.has("marker-d1g") {
		t.Fatal("a GET of the link released the message")
	}
	if r := postForm(t, c, srv.URL+"/q/release", srv.URL, map[string]string{"t": tok + "x"}, nil); r.status != 404 {
		t.Errorf("forged token: %d", r.status)
	}
	if r := postForm(t, c, srv.URL+"/q/release", srv.URL, map[string]string{"t": tok}, nil); r.status != 200 || !strings.Contains(string(r.body), "Released") {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
	if !sk.has("marker-d1g") {
		t.Error("released but not delivered")
	}
	if r := postForm(t, c, srv.URL+"/q/release", srv.URL, map[string]string{"t": tok}, nil); r.status == 200 {
		t.Error("a second release succeeded")
	}
}
