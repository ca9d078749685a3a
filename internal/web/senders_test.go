package web_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/consent"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/label"
	"github.com/accord-antispam/accord/internal/lint"
	"github.com/accord-antispam/accord/internal/rules"
	"github.com/accord-antispam/accord/internal/store/sqlite"
	"github.com/accord-antispam/accord/internal/store/sqlstore"
	"github.com/accord-antispam/accord/internal/trace/geo"
	"github.com/accord-antispam/accord/internal/web"
)

type sentMail struct {
	mu   sync.Mutex
	mail []consent.Mail
}

func (m *sentMail) Send(_ context.Context, x consent.Mail) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.mail = append(m.mail, x)
	return fmt.Sprintf("m%d", len(m.mail)), nil
}

func (m *sentMail) last() consent.Mail {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.mail[len(m.mail)-1]
}

type senderNode struct {
	url     string
	handler http.Handler
	store   *sqlstore.Store
	svc     *consent.Service
	desk    *intake.Desk
	mail    *sentMail
	key     ed25519.PrivateKey
}

func startSenders(t testing.TB, rate int, proxies ...netip.Prefix) senderNode {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "accord.db"))
	if err != nil {
		t.Fatal(err)
	}
	lib, _ := rules.Embedded()
	d, err := intake.New(st, &analysis.Analyzer{Rules: lib, Geo: geo.Embedded()}, intake.Options{Secret: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	mb := &sentMail{}
	n := senderNode{store: st, mail: mb, key: key, desk: d}
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	n.svc, err = consent.New(st, consent.Options{Keys: consent.Keys{Recipients: bytes.Repeat([]byte{1}, 32), TokenCipher: bytes.Repeat([]byte{2}, 32),
		TokenMAC: bytes.Repeat([]byte{3}, 32)}, Signer: key, Mailer: mb, BaseURL: base, MailHost: "node.example", Rules: lib})
	if err != nil {
		t.Fatal(err)
	}
	cert := &lint.Certifier{Linter: &lint.Linter{Analyzer: &analysis.Analyzer{Rules: lib}}, Consent: n.svc, Labels: st, Key: key, StatusURL: base + web.StatusPath}
	var lim *web.Limits
	if len(proxies) > 0 {
		l := web.DefaultLimits()
		l.TrustedProxies = proxies
		lim = &l
	}
	s, err := web.New(d, st, web.Config{Consent: n.svc, Certifier: cert, PublicRate: rate, Limits: lim}, nil)
	if err != nil {
		t.Fatal(err)
	}
	n.handler = s.Handler()
	srv.Config.Handler = n.handler
	srv.Start()
	n.url = srv.URL
	t.Cleanup(func() { srv.Close(); d.Close(); st.Close() })
	return n
}

func (n senderNode) sender(t testing.TB, domain string) string {
	t.Helper()
	if _, err := n.svc.AddSender(context.Background(), consent.Sender{ID: domain, Contact: "dpo@" + domain, Jurisdictions: []string{"EU", "US"}}); err != nil {
		t.Fatal(err)
	}
	plain, tok := access.NewToken(nil, access.Sender, domain, time.Now())
	if err := n.store.CreateToken(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	return plain
}

func jsonBody(v any) []byte { b, _ := json.Marshal(v); return b }

var buttonRe = regexp.MustCompile(`<form method="post" action="(/[uc]/[^"]+)"`)

func TestConfirmedOptIn(t *testing.T) {
	n := startSenders(t, 1000)
	shop := n.sender(t, "shop.example")
	r := do(t, "POST", n.url+"/api/v1/consents", shop, "application/json", jsonBody(map[string]any{
		"recipient": "dave@example.net", "list": "news", "basis": "consent", "confirm": true,
		"capture": map[string]any{"method": "form", "form_url": "https://shop.example/join", "text": "Yes, send me the news", "checkbox_default": "unchecked", "ip": "192.0.2.7"},
	}))
	if r.status != http.StatusCreated {
		t.Fatalf("POST consent: %d %s", r.status, r.body)
	}
	if bytes.Contains(r.body, []byte("/c/")) {
		t.Fatalf("the sender was shown the confirmation link: %s", r.body)
	}
	m := n.mail.last()
	link := regexp.MustCompile(`https?://\S+/c/\S+`).FindString(m.Text)
	if m.To != "dave@example.net" || link == "" {
		t.Fatalf("confirmation mail: %+v", m)
	}
	// A link scanner's GET: a page with a button, and nothing confirmed.
	for i := 0; i < 3; i++ {
		g := do(t, "GET", link, "", "", nil)
		if g.status != 200 || !buttonRe.Match(g.body) {
			t.Fatalf("GET confirmation: %d %s", g.status, g.body)
		}
	}
	get := do(t, "GET", n.url+"/api/v1/consents?recipient=dave@example.net", shop, "", nil)
	if !strings.Contains(string(get.body), `"status": "pending"`) {
		t.Fatalf("after GETs: %s", get.body)
	}
	// The button's POST confirms; again is the same.
	action := buttonRe.FindSubmatch(do(t, "GET", link, "", "", nil).body)[1]
	// A POST without the button's field (a scanner that submits forms
	// empty, another site's form) confirms nothing.
	for _, b := range []string{"", "confirm=no", "List-Unsubscribe=One-Click"} {
		if p := do(t, "POST", n.url+string(action), "", "application/x-www-form-urlencoded", []byte(b)); p.status != 400 {
			t.Fatalf("POST confirmation with %q: %d", b, p.status)
		}
	}
	if get := do(t, "GET", n.url+"/api/v1/consents?recipient=dave@example.net", shop, "", nil); !strings.Contains(string(get.body), `"status": "pending"`) {
		t.Fatalf("after POSTs without the button: %s", get.body)
	}
	for i := 0; i < 2; i++ {
		p := do(t, "POST", n.url+string(action), "", "application/x-www-form-urlencoded", []byte("confirm=yes"))
		if p.status != 200 || !strings.Contains(string(p.body), "is confirmed") {
			t.Fatalf("POST confirmation: %d %s", p.status, p.body)
		}
	}
	get = do(t, "GET", n.url+"/api/v1/consents?recipient=dave@example.net", shop, "", nil)
	if !strings.Contains(string(get.body), `"status": "active"`) || !strings.Contains(string(get.body), `"confirmed": true`) {
		t.Fatalf("after POST: %s", get.body)
	}
	// The proof verifies offline; the same proof edited does not.
	pr := do(t, "GET", n.url+"/api/v1/consents/proof?recipient=dave@example.net&list=news", shop, "", nil)
	c, err := consent.VerifyProof(bytes.NewReader(pr.body))
	if err != nil || !c.OK() || !c.Payload.Summary.ConsentOnRecord || !c.Payload.Summary.Confirmed {
		t.Fatalf("proof: %v %+v %s", err, c.Problems, pr.body)
	}
	edited := bytes.Replace(pr.body, []byte(`"ip": "192.0.2.7"`), []byte(`"ip": "192.0.2.8"`), 1)
	if bytes.Equal(edited, pr.body) {
		t.Fatal("the edit did not apply")
	}
	if c, err := consent.VerifyProof(bytes.NewReader(edited)); err != nil || c.OK() {
		t.Errorf("an edited proof verified (%v)", err)
	}
	// Bad input: clear errors.
	for _, body := range []string{`{"recipient":"x","list":"news","basis":"consent","capture":{"method":"form"}}`, `{"nope":1}`, `[`,
		`{"recipient":"a@example.net","list":"news","basis":"consent","capture":{"method":"form","checkbox_default":"checked"}}`} {
		if r := do(t, "POST", n.url+"/api/v1/consents", shop, "application/json", []byte(body)); r.status != 400 {
			t.Errorf("%s: %d %s", body, r.status, r.body)
		}
	}
	if r := do(t, "POST", n.url+"/api/v1/consents", shop, "application/json", jsonBody(map[string]any{
		"recipient": "dave@example.net", "list": "news", "basis": "consent", "capture": map[string]any{"method": "form"}})); r.status != 409 {
		t.Errorf("second record: %d %s", r.status, r.body)
	}
}

func TestOneClickOptOut(t *testing.T) {
	n := startSenders(t, 1000)
	shop := n.sender(t, "shop.example")
	r := do(t, "POST", n.url+"/api/v1/unsubscribe-links", shop, "application/json", jsonBody(map[string]any{
		"list": "news", "campaign": "dec", "recipients": []string{"bob@example.net", "carol@example.net"}}))
	if r.status != 200 {
		t.Fatalf("links: %d %s", r.status, r.body)
	}
	var links struct {
		Links   []consent.Link
		Warning string
	}
	json.Unmarshal(r.body, &links)
	// This test node's URL is http://: the answer says the operator must fix it.
	if !strings.Contains(links.Warning, "[senders] public_url") {
		t.Errorf("http:// links without a warning: %q", links.Warning)
	}
	l := links.Links[0]
	if !strings.HasPrefix(l.ListUnsubscribe, "<"+n.url+"/u/") || l.ListUnsubscribePost != "List-Unsubscribe=One-Click" ||
		!strings.Contains(l.ListUnsubscribe, "<mailto:unsubscribe+"+l.Token+"@node.example?subject=unsubscribe>") {
		t.Fatalf("link = %+v", l)
	}
	// GET: a page, never an opt-out.
	g := do(t, "GET", l.URL, "", "", nil)
	if g.status != 200 || !buttonRe.Match(g.body) || strings.Contains(string(g.body), "Done:") {
		t.Fatalf("GET: %d %s", g.status, g.body)
	}
	feed := func(since string) [][]string {
		r := do(t, "GET", n.url+"/api/v1/suppressions?since="+since, shop, "", nil)
		if r.status != 200 || r.header.Get("Content-Type") != "text/csv; charset=utf-8" {
			t.Fatalf("feed: %d %s", r.status, r.body)
		}
		rows, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		return rows[1:]
	}
	if rows := feed(""); len(rows) != 0 {
		t.Fatalf("suppressed after a GET: %v", rows)
	}
	// RFC 8058 one-click POST as a mail client sends it: immediate, no redirect.
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	post := func(u, ct string, body []byte) resp {
		req, _ := http.NewRequest("POST", u, bytes.NewReader(body))
		req.Header.Set("Content-Type", ct)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(res.Body)
		return resp{res.StatusCode, res.Header, b.Bytes()}
	}
	p := post(l.URL, "application/x-www-form-urlencoded", []byte("List-Unsubscribe=One-Click"))
	if p.status != 200 || !strings.Contains(string(p.body), "you are unsubscribed") {
		t.Fatalf("one-click POST: %d %s", p.status, p.body)
	}
	rows := feed("")
	if len(rows) != 1 || rows[0][2] != "news" || rows[0][3] != "suppress" || rows[0][4] != "one-click" || rows[0][7] != "EU" {
		t.Fatalf("feed after one-click: %v", rows)
	}
	// Replayed: 200, "already", nothing new in the feed or the log.
	seq, _, _ := n.store.Head(context.Background(), "shop.example")
	p = post(l.URL, "application/x-www-form-urlencoded", []byte("List-Unsubscribe=One-Click"))
	if p.status != 200 || !strings.Contains(string(p.body), "already") {
		t.Fatalf("replayed POST: %d %s", p.status, p.body)
	}
	if s2, _, _ := n.store.Head(context.Background(), "shop.example"); s2 != seq || len(feed("")) != 1 {
		t.Errorf("a replay wrote to the log (%d → %d)", seq, s2)
	}
	// multipart/form-data is allowed by RFC 8058 too.
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	mw.WriteField("List-Unsubscribe", "One-Click")
	mw.Close()
	if p := post(links.Links[1].URL, mw.FormDataContentType(), mp.Bytes()); p.status != 200 || !strings.Contains(string(p.body), "unsubscribed") {
		t.Fatalf("multipart POST: %d %s", p.status, p.body)
	}
	rows = feed("1")
	if len(rows) != 1 || rows[0][0] != "2" {
		t.Errorf("feed after cursor 1: %v", rows)
	}
	if rows := feed(time.Now().Add(time.Hour).UTC().Format(time.RFC3339)); len(rows) != 0 {
		t.Errorf("feed since a later time: %v", rows)
	}
	if r := do(t, "GET", n.url+"/api/v1/suppressions?since=yesterday", shop, "", nil); r.status != 400 {
		t.Errorf("bad since: %d", r.status)
	}
	// Next mailing: the opted-out recipient is flagged, not linked.
	r = do(t, "POST", n.url+"/api/v1/unsubscribe-links", shop, "application/json", jsonBody(map[string]any{"list": "news", "recipients": []string{"bob@example.net"}}))
	if !strings.Contains(string(r.body), `"suppressed": true`) || strings.Contains(string(r.body), "/u/") {
		t.Errorf("links for an opted-out recipient: %s", r.body)
	}
	// The sender's view: its standing, its campaigns, its key.
	self := do(t, "GET", n.url+"/api/v1/sender", shop, "", nil).json(t)
	if self["id"] != "shop.example" || len(self["recipient_key"].(string)) != 64 {
		t.Errorf("sender view: %v", self)
	}
}

// Forged and foreign tokens, other senders' data, and floods on the
// public pages.
func TestSenderAttacks(t *testing.T) {
	n := startSenders(t, 20)
	shop := n.sender(t, "shop.example")
	other := n.sender(t, "other.example")
	r := do(t, "POST", n.url+"/api/v1/unsubscribe-links", shop, "application/json", jsonBody(map[string]any{"list": "news", "recipients": []string{"bob@example.net"}}))
	var links struct{ Links []consent.Link }
	json.Unmarshal(r.body, &links)
	tok := links.Links[0].Token
	// Forged: every character changed in turn, a token of another node's
	// keys, junk. None unsubscribes; each is a 404.
	forged := []string{tok[:10] + "a" + tok[11:], strings.Repeat("a", consent.TokenLen), tok[:consent.TokenLen-1], tok + "x"}
	if tok[10] == 'a' {
		forged[0] = tok[:10] + "b" + tok[11:]
	}
	for _, f := range forged {
		p := do(t, "POST", n.url+"/u/"+f, "", "application/x-www-form-urlencoded", []byte("List-Unsubscribe=One-Click"))
		if p.status != 404 {
			t.Errorf("forged %q: %d", f, p.status)
		}
	}
	if sup, _ := n.store.SuppressionFeed(context.Background(), "shop.example", consent.FeedQuery{Limit: 10}, time.Now()); len(sup) != 0 {
		t.Fatalf("a forged token unsubscribed: %+v", sup)
	}
	// Bodies a proxy or log in front of the node would read otherwise —
	// a key twice, in any case — and text that is not UTF-8 are refused
	// with 400, and nothing is recorded; decoder errors name no Go types;
	// an address literal is no recipient.
	for name, b := range map[string]string{
		"duplicate key":    `{"recipient":"first@example.net","list":"news","basis":"consent","capture":{"method":"form"},"recipient":"second@example.net"}`,
		"case-variant key": `{"recipient":"first@example.net","list":"news","basis":"consent","capture":{"method":"form"},"Recipient":"second@example.net"}`,
		"invalid UTF-8":    "{\"recipient\":\"first@example.net\",\"list\":\"news\",\"basis\":\"consent\",\"capture\":{\"method\":\"form\",\"text\":\"I agree \xff\xfe to the news\"}}",
		"wrong type":       `{"recipient":"first@example.net","list":["news"],"basis":"consent","capture":{"method":"form"}}`,
		"address literal":  `{"recipient":"a7@[127.0.0.1]","list":"news","basis":"consent","capture":{"method":"form"}}`,
	} {
		r := do(t, "POST", n.url+"/api/v1/consents", shop, "application/json", []byte(b))
		if r.status != 400 || strings.Contains(string(r.body), "Go ") || strings.Contains(string(r.body), "recordIn") {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	for _, who := range []string{"first@example.net", "second@example.net"} {
		if r := do(t, "GET", n.url+"/api/v1/consents?recipient="+who, shop, "", nil); strings.Contains(string(r.body), `"status"`) {
			t.Errorf("a refused body recorded %s: %s", who, r.body)
		}
	}
	// A POST without RFC 8058's List-Unsubscribe=One-Click in its body
	// (a scanner, another site's form) changes nothing, whatever the URL
	// says.
	for _, p := range []struct{ path, ct, body string }{{"", "text/plain", "anything"}, {"", "application/x-www-form-urlencoded", "scope=all"},
		{"", "application/x-www-form-urlencoded", "List-Unsubscribe=Yes"}, {"?List-Unsubscribe=One-Click", "text/plain", "x"}} {
		if got := do(t, "POST", n.url+"/u/"+tok+p.path, "", p.ct, []byte(p.body)); got.status != 400 {
			t.Errorf("a POST of %q %q: %d", p.ct, p.body, got.status)
		}
	}
	if sup, _ := n.store.SuppressionFeed(context.Background(), "shop.example", consent.FeedQuery{Limit: 10}, time.Now()); len(sup) != 0 {
		t.Fatalf("a POST without the one-click body unsubscribed: %+v", sup)
	}
	// One request makes at most consent.MaxLinks links.
	many := make([]string, consent.MaxLinks+1)
	for i := range many {
		many[i] = fmt.Sprintf("r%d@example.net", i)
	}
	if p := do(t, "POST", n.url+"/api/v1/unsubscribe-links", shop, "application/json", jsonBody(map[string]any{"list": "news", "recipients": many})); p.status != 400 {
		t.Errorf("%d links in one request: %d %s", len(many), p.status, p.body)
	}
	// One sender cannot see another's recipients or feed.
	do(t, "POST", n.url+"/u/"+tok, "", "application/x-www-form-urlencoded", []byte("List-Unsubscribe=One-Click"))
	if rows := do(t, "GET", n.url+"/api/v1/suppressions", other, "", nil); strings.Count(string(rows.body), "\n") != 1 {
		t.Errorf("other sender's feed: %s", rows.body)
	}
	if g := do(t, "GET", n.url+"/api/v1/consents?recipient=bob@example.net", other, "", nil); strings.Contains(string(g.body), "one-click") {
		t.Errorf("other sender sees shop's opt-out: %s", g.body)
	}
	// Role separation.
	reporter, analyst := "", ""
	for _, x := range []struct {
		role access.Role
		out  *string
	}{{access.Reporter, &reporter}, {access.Analyst, &analyst}} {
		plain, tk := access.NewToken(nil, x.role, "t", time.Now())
		n.store.CreateToken(context.Background(), tk)
		*x.out = plain
	}
	if r := do(t, "GET", n.url+"/api/v1/sender", analyst, "", nil); r.status != 403 {
		t.Errorf("analyst on the sender API: %d", r.status)
	}
	if r := do(t, "GET", n.url+"/api/v1/senders", shop, "", nil); r.status != 403 {
		t.Errorf("sender on the authority API: %d", r.status)
	}
	if r := do(t, "GET", n.url+"/api/v1/senders", reporter, "", nil); r.status != 403 {
		t.Errorf("reporter on the authority API: %d", r.status)
	}
	if r := do(t, "GET", n.url+"/api/v1/senders/shop.example", analyst, "", nil); r.status != 200 || !strings.Contains(string(r.body), "overdue_opt_outs") {
		t.Errorf("analyst's view of a sender: %d %s", r.status, r.body)
	}
	// A flood from one address is cut off with 429 and changes nothing.
	codes := map[int]int{}
	for i := 0; i < 60; i++ {
		p := do(t, "POST", n.url+"/u/"+strings.Repeat("b", consent.TokenLen), "", "application/x-www-form-urlencoded", []byte("List-Unsubscribe=One-Click"))
		codes[p.status]++
	}
	if codes[429] == 0 || codes[404]+codes[429] != 60 {
		t.Errorf("flood answers: %v", codes)
	}
}

const campaignMsg = "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=shop.example; s=s1; h=from:subject:list-unsubscribe:list-unsubscribe-post; bh=x; b=x\r\n" +
	"From: Shop Ltd <news@shop.example>\r\nTo: dave@example.net\r\nSubject: The winter sale\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n" +
	"Message-ID: <w@shop.example>\r\nList-Unsubscribe: <https://node.example/u/x>, <mailto:unsubscribe+x@node.example>\r\n" +
	"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\r\nOur winter sale: 20% off every coat, from $49.\r\n" +
	"Shop Ltd, 1200 Market Street, Springfield, IL 62701. To unsubscribe, click https://node.example/u/x\r\n"

func TestLabelsAPI(t *testing.T) {
	n := startSenders(t, 1000)
	shop := n.sender(t, "shop.example")
	ask := func(msg string) resp {
		return do(t, "POST", n.url+"/api/v1/labels?ttl=48h", shop, "message/rfc822", []byte(msg))
	}
	// No consent record yet: not eligible, with the reason.
	r := ask(campaignMsg)
	if r.status != 422 || !strings.Contains(string(r.body), "no active consent record") {
		t.Fatalf("label without consent records: %d %s", r.status, r.body)
	}
	do(t, "POST", n.url+"/api/v1/consents", shop, "application/json", jsonBody(map[string]any{"recipient": "dave@example.net", "list": "news",
		"basis": "consent", "capture": map[string]any{"method": "form"}}))
	r = ask(campaignMsg)
	if r.status != 201 {
		t.Fatalf("label: %d %s", r.status, r.body)
	}
	var got struct{ ID, Header, Domain string }
	json.Unmarshal(r.body, &got)
	l, err := label.Parse(strings.TrimSpace(strings.TrimPrefix(got.Header, label.Header+":")))
	if err != nil || l.Domain != "shop.example" || l.Canon != "relaxed" || !l.VerifySignature(n.key.Public().(ed25519.PublicKey)) ||
		l.Expires.Sub(l.Issued) != 48*time.Hour {
		t.Fatalf("issued label %+v %v", l, err)
	}
	// A label is one message to one recipient: the node's opt-out link in
	// it must be the one issued for the recipient it is addressed to.
	lr := do(t, "POST", n.url+"/api/v1/unsubscribe-links", shop, "application/json", jsonBody(map[string]any{"list": "news", "campaign": "jan",
		"recipients": []string{"dave@example.net", "erin@example.net"}}))
	var links struct {
		Links []struct {
			URL             string `json:"url"`
			ListUnsubscribe string `json:"list_unsubscribe"`
		}
	}
	if err := json.Unmarshal(lr.body, &links); err != nil || len(links.Links) != 2 {
		t.Fatalf("links: %d %s", lr.status, lr.body)
	}
	withLink := func(i int) string {
		m := strings.Replace(campaignMsg, "<https://node.example/u/x>, <mailto:unsubscribe+x@node.example>", links.Links[i].ListUnsubscribe, 1)
		m = strings.Replace(m, "https://node.example/u/x", links.Links[i].URL, 1)
		return strings.ReplaceAll(m, n.url+"/u/", "https://node.example/u/") // as at a node published over https
	}
	if r := ask(withLink(0)); r.status != 201 {
		t.Errorf("label for dave's message with dave's opt-out: %d %s", r.status, r.body)
	}
	if r := ask(withLink(1)); r.status != 422 || !strings.Contains(string(r.body), "issued for another recipient than dave@example.net") {
		t.Errorf("label for dave's message with erin's opt-out: %d %s", r.status, r.body)
	}
	if r := do(t, "POST", n.url+"/api/v1/labels?recipient=erin@example.net", shop, "message/rfc822", []byte(withLink(1))); r.status != 422 ||
		!strings.Contains(string(r.body), "not addressed (To) to erin@example.net") {
		t.Errorf("label for a message to dave asked for erin: %d %s", r.status, r.body)
	}
	// A header readers split differently is never labelled.
	if r := ask(strings.Replace(withLink(0), "From: Shop", "Subject : Your account is suspended\r\nFrom: Shop", 1)); r.status != 422 ||
		!strings.Contains(string(r.body), "white space before its colon") {
		t.Errorf("label for a message with 'Subject :': %d %s", r.status, r.body)
	}
	// Not compliant: the lint's breaches are the reason.
	r = ask(strings.Replace(campaignMsg, "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n", "", 1))
	if r.status != 422 || !strings.Contains(string(r.body), "optout.one-click") {
		t.Errorf("label for a message without one-click: %d %s", r.status, r.body)
	}
	// Signed by another domain, or not signed and no domain= named: a
	// condition of the label (422 not-eligible, with the lint report), as
	// docs/label.md says; a domain= that is not the sender's is a bad request.
	if r := ask(strings.ReplaceAll(campaignMsg, "d=shop.example", "d=other.example")); r.status != 422 ||
		!strings.Contains(string(r.body), `"not-eligible"`) || !strings.Contains(string(r.body), "no DKIM signature by one of the sender's domains") {
		t.Errorf("label for another domain's signature: %d %s", r.status, r.body)
	}
	unsigned := campaignMsg[strings.Index(campaignMsg, "From:"):]
	if r := ask(unsigned); r.status != 422 || !strings.Contains(string(r.body), `"not-eligible"`) || !strings.Contains(string(r.body), `"report"`) ||
		strings.Contains(string(r.body), `"message": "consent:`) || strings.Contains(string(r.body), `"message":"consent:`) {
		t.Errorf("label for an unsigned message without domain=: %d %s", r.status, r.body)
	}
	if r := do(t, "POST", n.url+"/api/v1/labels?domain=other.example", shop, "message/rfc822", []byte(unsigned)); r.status != 400 ||
		!strings.Contains(string(r.body), "label request: domain: other.example is not one of the sender's domains") {
		t.Errorf("domain= of another organisation: %d %s", r.status, r.body)
	}
	// The status list is public, signed, and lists a revocation.
	if err := n.store.RevokeLabel(context.Background(), got.ID, time.Now(), "test"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2100 * time.Millisecond)
	st := do(t, "GET", n.url+web.StatusPath, "", "", nil)
	status, err := label.ReadStatus(bytes.NewReader(st.body), n.key.Public().(ed25519.PublicKey))
	if st.status != 200 || err != nil || len(status.Labels) != 1 || status.Labels[0].ID != got.ID {
		t.Fatalf("status list: %d %v %s", st.status, err, st.body)
	}
	// A suspended sender gets no label.
	n.svc.SetSenderStatus(context.Background(), "shop.example", consent.SenderSuspended, "test")
	if r := ask(campaignMsg); r.status != 422 || !strings.Contains(string(r.body), "suspended") {
		t.Errorf("label for a suspended sender: %d %s", r.status, r.body)
	}
	// The lint over the API.
	n.svc.SetSenderStatus(context.Background(), "shop.example", consent.SenderActive, "")
	lr = do(t, "POST", n.url+"/api/v1/lint?recipient=dave@example.net&list=news", shop, "message/rfc822", []byte(campaignMsg))
	if lr.status != 200 || !strings.Contains(string(lr.body), `"check": "consent.on-record"`) {
		t.Errorf("lint over the API: %d %s", lr.status, lr.body)
	}
}

// The authority's desk pages: every sender's standing, and one sender's
// rates per list and campaign.
func TestSenderDeskPages(t *testing.T) {
	n := startSenders(t, 1000)
	shop := n.sender(t, "shop.example")
	do(t, "POST", n.url+"/api/v1/unsubscribe-links", shop, "application/json", jsonBody(map[string]any{"list": "news", "campaign": "dec",
		"recipients": []string{"a@example.net", "b@example.net"}}))
	ctx := context.Background()
	h, _ := access.HashPassword("a long passphrase")
	n.store.CreateUser(ctx, access.User{Name: "ana", PasswordHash: h, Role: access.Analyst, CreatedAt: time.Now()})
	n.store.CreateSession(ctx, access.Session{Hash: access.Hash("session-cookie-value"), User: "ana", CSRF: "c", ExpiresAt: time.Now().Add(time.Hour)})
	page := func(path string, cookie bool) resp {
		req, _ := http.NewRequest("GET", n.url+path, nil)
		if cookie {
			req.AddCookie(&http.Cookie{Name: "accord_session", Value: "session-cookie-value"})
		}
		res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(res.Body)
		return resp{res.StatusCode, res.Header, b.Bytes()}
	}
	if r := page("/desk/senders", false); r.status != http.StatusSeeOther {
		t.Errorf("anonymous: %d", r.status)
	}
	r := page("/desk/senders", true)
	if r.status != 200 || !strings.Contains(string(r.body), `href="/desk/senders/shop.example"`) {
		t.Fatalf("senders page: %d %s", r.status, r.body)
	}
	r = page("/desk/senders/shop.example", true)
	// Links for recipients without confirmed consent count no messages.
	if r.status != 200 || !strings.Contains(string(r.body), "<td>news</td><td>dec</td><td>0</td><td>0</td>") {
		t.Fatalf("sender page: %d %s", r.status, r.body)
	}
	if r := page("/desk/senders/nobody.example", true); r.status != 404 {
		t.Errorf("unknown sender: %d", r.status)
	}
}

// TestStatusSaysWhatFeedbackDid: the complainant's status page says she
// is unsubscribed from all the registered sender's lists and that her
// complaint went to the sender without her address — in her language —
// when that is what happened, and says nothing of it for a complaint
// recorded for the authority only (trial 25 F8).
func TestStatusSaysWhatFeedbackDid(t *testing.T) {
	n := startSenders(t, 1000)
	n.sender(t, "shop.example")
	ctx := context.Background()
	c := browser(t)
	submit := func(i int) intake.Receipted {
		t.Helper()
		raw := []byte("From: ana@example.net\r\nTo: report@localhost\r\nSubject: Fwd\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
			"--b\r\nContent-Type: text/plain\r\n\r\nlook\r\n--b\r\nContent-Type: message/rfc822\r\n\r\n" + string(variant(i)) + "\r\n--b--\r\n")
		rec, err := n.desk.Submit(ctx, intake.Submission{Channel: intake.ChannelSMTP, Raw: raw, Reporter: "ana@example.net", SubmittedBy: "smtp"})
		if err != nil {
			t.Fatal(err)
		}
		return rec.Reports[0]
	}
	fed, unverified := submit(1), submit(2)
	if _, err := n.svc.RecordComplaint(ctx, consent.ComplaintInput{ReportID: fed.ID, Sender: "shop.example", Address: "ana@example.net",
		List: "news", How: consent.HowDKIM, MessageKey: "dkim:1"}); err != nil {
		t.Fatal(err)
	}
	if err := n.store.MarkForwarded(ctx, fed.ID, "shop.example", "m1"); err != nil {
		t.Fatal(err)
	}
	if _, err := n.svc.RecordComplaint(ctx, consent.ComplaintInput{ReportID: unverified.ID, Sender: "shop.example", Address: "ana@example.net",
		List: "news", How: consent.HowDKIMUnverified}); err != nil {
		t.Fatal(err)
	}
	for lang, want := range map[string][]string{
		"en": {"You are now unsubscribed from all the mailing lists of shop.example", "Your complaint has been passed on to shop.example, with your address removed."},
		"de": {"Sie sind jetzt von allen Verteilern von shop.example abgemeldet", "Ihre Beschwerde wurde ohne Ihre Adresse an shop.example weitergegeben."},
		"fr": {"toutes les listes de diffusion de shop.example", "Votre plainte a été transmise à shop.example, sans votre adresse."},
	} {
		page := get(t, c, n.url+"/r/"+fed.ID+"?t="+fed.StatusToken+"&lang="+lang)
		for _, w := range want {
			if !bytes.Contains(page.body, []byte(w)) {
				t.Errorf("%s: the status page of a complaint fed back lacks %q", lang, w)
			}
		}
	}
	page := get(t, c, n.url+"/r/"+unverified.ID+"?t="+unverified.StatusToken)
	if page.status != 200 || bytes.Contains(page.body, []byte(`id="fed-back-`)) {
		t.Errorf("the status page of a complaint recorded for the authority only says it was fed back (%d)", page.status)
	}
}
