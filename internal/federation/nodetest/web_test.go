package nodetest

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/federation"
	"github.com/accord-antispam/accord/internal/web"
)

type browser struct {
	t   *testing.T
	c   *http.Client
	url string
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	res, err := b.c.Get(b.url + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

func (b *browser) post(path string, form url.Values) (int, string) {
	b.t.Helper()
	req, _ := http.NewRequest("POST", b.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(body)
}

func login(t *testing.T, n *node, srv string, user string, role access.Role) *browser {
	t.Helper()
	h, _ := access.HashPassword("a long passphrase")
	if err := n.store.CreateUser(context.Background(), access.User{Name: user, PasswordHash: h, Role: role, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, url: srv}
	_, page := b.get("/login")
	m := csrfRe.FindStringSubmatch(page)
	if code, _ := b.post("/login", url.Values{"csrf": {m[1]}, "user": {user}, "password": {"a long passphrase"}}); code != 303 {
		t.Fatalf("login %s: %d", user, code)
	}
	return b
}

func TestCooperationPagesForAuthorities(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 11, 3, 10, 5, 0, 0, time.UTC)}
	fr, us := newNode(t, c, "fr", "FR"), newNode(t, c, "us", "US")
	fr.know(t, us, "US", frUS)
	us.know(t, fr, "FR", back)
	fr.file(t, spam("12.0.0.1", "deals@pharma-mailer.example", "Cheap meds", pharma, 1), "a@example.fr")
	fr.file(t, spam("202.96.128.1", "win@lotto-cn.example", "You won", lottery, 2), "b@example.fr")
	if _, err := fr.svc.Sync(ctx, "us"); err != nil {
		t.Fatal(err)
	}
	req, err := fr.svc.NewRequest(ctx, "us", federation.TypeInformation, "Who runs pharma-us.example?", "", "", "", "ana")
	if err != nil {
		t.Fatal(err)
	}
	ws, err := web.New(fr.desk, fr.store, web.Config{Federation: fr.svc, Now: c.Now}, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ws.Handler())
	defer srv.Close()

	analyst := login(t, fr, srv.URL, "carl", access.Analyst)
	if code, _ := analyst.get("/fed"); code != 403 {
		t.Errorf("an analyst opened the cooperation page: %d", code)
	}
	if _, desk := analyst.get("/desk"); strings.Contains(desk, `href="/fed"`) {
		t.Error("the analyst's desk links to the cooperation pages")
	}
	ana := login(t, fr, srv.URL, "ana", access.Authority)
	if _, desk := ana.get("/desk"); !strings.Contains(desk, `href="/fed"`) {
		t.Error("the authority's desk does not link to the cooperation pages")
	}
	code, page := ana.get("/fed")
	if code != 200 || !strings.Contains(page, `href="/fed/peers/us"`) || !strings.Contains(page, "FR-US-2026 v1") || !strings.Contains(page, req.ID) || strings.Contains(page, "overdue") {
		t.Fatalf("cooperation page: %d\n%s", code, page)
	}
	c.Add(31 * 24 * time.Hour)
	if code, _ := ana.get("/fed"); code != 303 {
		t.Errorf("a session outlived its 12 hours: %d", code)
	}
	ana = login(t, fr, srv.URL, "ana2", access.Authority)
	if _, page = ana.get("/fed"); !strings.Contains(page, "<strong>overdue</strong>") {
		t.Errorf("no overdue after 31 days:\n%s", page)
	}
	code, page = ana.get("/fed/peers/us")
	if code != 200 || !strings.Contains(page, "both logs verify") || !strings.Contains(page, "origins: its origin (CN)") || !strings.Contains(page, `id="preview-summary">0 items to send`) {
		t.Fatalf("peer page: %d\n%s", code, page)
	}
	if !strings.Contains(page, "ind:ipv4-addr:12.0.0.1") || !strings.Contains(page, "countersigned") {
		t.Errorf("peer page lacks the custody log:\n%s", page)
	}
	// While US has not answered, the requester has nothing to do.
	_, page = ana.get("/fed/requests/" + req.ID)
	if strings.Contains(page, `value="close"`) || strings.Contains(page, `value="accept"`) {
		t.Fatalf("request page (nothing to do while waiting):\n%s", page)
	}
	// US refuses, with its reason; FR may then close it.
	for _, step := range []func() error{
		func() error { _, err := fr.svc.Sync(ctx, "us"); return err },
		func() error {
			_, err := us.svc.Transition(ctx, req.ID, federation.ActRefuse, "outside our competence", "bob")
			return err
		},
		func() error { _, err := us.svc.Sync(ctx, "fr"); return err },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	// Acting on a request: CSRF applies.
	if code, _ := ana.post("/fed/requests/"+req.ID, url.Values{"action": {"close"}, "csrf": {"forged"}}); code != 403 {
		t.Errorf("forged CSRF: %d", code)
	}
	_, page = ana.get("/fed/requests/" + req.ID)
	tok := csrfRe.FindStringSubmatch(page)
	if tok == nil || !strings.Contains(page, `value="close"`) || strings.Contains(page, `value="accept"`) || !strings.Contains(page, "outside our competence") {
		t.Fatalf("request page (the requester may close a refused request, not accept it):\n%s", page)
	}
	if code, page := ana.post("/fed/requests/"+req.ID, url.Values{"action": {"close"}, "note": {"understood"}, "csrf": {tok[1]}}); code != 200 || !strings.Contains(page, `id="state">closed`) {
		t.Fatalf("close: %d\n%s", code, page)
	}
	if q, _ := fr.store.Outbox(ctx, "us"); len(q) != 1 || q[0].Msg.Action != federation.ActClose {
		t.Errorf("the close is not queued for US: %+v", q)
	}

	// What partners sent, readable at US: every item in full with its
	// terms; analysts may not read it.
	uws, err := web.New(us.desk, us.store, web.Config{Federation: us.svc, Now: c.Now}, nil)
	if err != nil {
		t.Fatal(err)
	}
	usrv := httptest.NewServer(uws.Handler())
	defer usrv.Close()
	if code, _ := login(t, us, usrv.URL, "dan", access.Analyst).get("/fed/received"); code != 403 {
		t.Errorf("an analyst reads received items: %d", code)
	}
	bea := login(t, us, usrv.URL, "bea", access.Authority)
	code, page = bea.get("/fed/received?peer=fr")
	got, _ := us.store.Received(ctx, federation.ReceivedFilter{Peer: "fr"})
	if code != 200 || len(got) == 0 {
		t.Fatalf("received page: %d, %d items", code, len(got))
	}
	for _, want := range []string{got[0].Item.Key, "FR-US-2026 version 1", "enforcement of anti-spam law", "MoU FR-US 2026, art. 3", "kept at most 365 days",
		"onward sharing not allowed", "purged at once if withdrawn", "held", "12.0.0.1"} {
		if !strings.Contains(page, html.EscapeString(want)) {
			t.Errorf("the received page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script") {
		t.Error("a script on the received page")
	}
	// Evidence reads as the redacted message.
	if _, ev := bea.get("/fed/received?peer=fr&kind=evidence"); !strings.Contains(ev, "Subject: Cheap meds") || !strings.Contains(ev, "[redacted]") {
		t.Errorf("evidence page:\n%s", ev)
	}
	if code, _ := bea.get("/fed/received?kind=nonsense"); code != 400 {
		t.Errorf("an unknown kind: %d", code)
	}
}
