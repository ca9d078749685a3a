package main

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"io"
	"mime/quotedprintable"
	"net/http"
	netmail "net/mail"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/outbound/sinktest"
)

// The sending domain's key and DNS, for lint and labels.
var shopKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))

func fixtureZone() string {
	return "shop.example TXT \"v=spf1 ip4:192.0.2.0/24 -all\"\n" +
		"example.net TXT \"v=spf1 ip4:127.0.0.0/8 -all\"\n" + // the complainants mail from here
		"_dmarc.shop.example TXT \"v=DMARC1; p=none\"\n" +
		"s1._domainkey.shop.example TXT \"v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(shopKey.Public().(ed25519.PublicKey)) + "\"\n"
}

// signedCampaign is a compliant campaign to one recipient, DKIM-signed
// over its list headers.
func signedCampaign(t *testing.T, to, listUnsub, optoutURL string) []byte {
	t.Helper()
	raw := "From: Shop Ltd <news@shop.example>\r\nTo: " + to + "\r\nSubject: Advertisement: the winter sale\r\n" +
		"Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <jan-1@shop.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n" +
		"List-Unsubscribe: " + listUnsub + "\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\r\n" +
		"This is an advertisement from Shop Ltd. Our winter sale: 20% off every coat until Sunday, from $49.\r\n" +
		"Shop Ltd, 1200 Market Street, Springfield, IL 62701\r\nTo unsubscribe, click " + optoutURL + "\r\n"
	var out bytes.Buffer
	if err := dkim.Sign(&out, strings.NewReader(raw), &dkim.SignOptions{Domain: "shop.example", Selector: "s1", Signer: shopKey,
		HeaderKeys:             []string{"From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post"},
		HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed}); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// senderAPI calls the node's API with a token.
func senderAPI(t *testing.T, s *served, method, path, token string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://"+s.http+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// exitCode runs the binary and returns its exit status and output.
func exitCode(t *testing.T, bin string, args ...string) (int, string) {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errorsAs(err, &ee):
		return ee.ExitCode(), string(out)
	}
	t.Fatalf("accord %v: %v", args, err)
	return -1, ""
}

func errorsAs(err error, ee **exec.ExitError) bool {
	x, ok := err.(*exec.ExitError)
	if ok {
		*ee = x
	}
	return ok
}

// A registered sender from the binary: consent, links, one-click and
// mailto opt-out (both idempotent), the feed, and a proof that verifies
// offline — and does not once edited.
func TestSendersEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := accordBinary(t)
	data := filepath.Join(t.TempDir(), "accord-data")
	// The node is published at https://accord.test (TLS ends at a proxy in
	// front of it): links name that, and the test calls the listener.
	// Its DNS is a fixture zone with the sender's SPF, DKIM key and DMARC.
	zone := filepath.Join(t.TempDir(), "shop.zone")
	os.WriteFile(zone, []byte(fixtureZone()), 0o600)
	// Its own mail (confirmations, feedback reports) goes to a real SMTP
	// server: Postfix's smtp-sink.
	sink := sinktest.Start(t)
	cfg := filepath.Join(t.TempDir(), "accord.toml")
	// Its filter's rspamd-compatible door is where mail providers ask.
	filterAddr := "127.0.0.1:" + freePort(t)
	os.WriteFile(cfg, []byte("[senders]\npublic_url = \"https://accord.test\"\nmail_domain = \"accord.test\"\n"+
		"[analysis]\nresolver = \""+zone+"\"\n[smtp]\nhostname = \"accord.test\"\n"+
		"[outbound]\nrelay = \"smtp://"+sink.Addr+"\"\ntls = \"none\"\n[filter]\nrspamd = \""+filterAddr+"\"\n"), 0o600)
	s := serve(t, bin, data, "--config", cfg)
	local := func(u string) string { return strings.Replace(u, "https://accord.test", "http://"+s.http, 1) }
	out := runBin(t, bin, "", "sender", "add", "shop.example", "--contact", "dpo@shop.example", "--name", "Shop Ltd",
		"--jurisdiction", "EU,US", "--data", data)
	shop := lastLine(out)
	if !strings.HasPrefix(shop, "acc_") || !strings.Contains(out, "sender shop.example registered") {
		t.Fatalf("sender add: %s", out)
	}
	// Stdout and stderr together, as on a terminal: no log line of the
	// service mixed into the command's result.
	if strings.Contains(out, "level=INFO") {
		t.Errorf("sender add mixes log lines into its output:\n%s", out)
	}
	if code, _ := exitCode(t, bin, "sender", "add", "not a domain", "--contact", "x@y.example", "--data", data); code != 2 {
		t.Errorf("sender add with a bad domain: exit %d", code)
	}

	code, body := senderAPI(t, s, "POST", "/api/v1/consents", shop, map[string]any{"recipient": "bob@example.net", "list": "news", "basis": "consent",
		"capture": map[string]any{"method": "form", "text": "Send me the news", "checkbox_default": "unchecked"}})
	if code != 201 {
		t.Fatalf("POST consent: %d %s", code, body)
	}
	confirmedOptIn(t, s, sink, shop, local)
	// Subscription bombing through sub-addresses: one sender's share of a
	// mailbox is two confirmation mails a day (of the three it may get
	// from all senders) however its address is spelt; the third request
	// waits (429), the mail is not queued.
	for i, to := range []string{"victim+0@example.org", "Victim+1@Example.ORG", "victim@example.org", "victim+3@example.org"} {
		code, body := senderAPI(t, s, "POST", "/api/v1/consents", shop, map[string]any{"recipient": to, "list": "news", "basis": "consent",
			"confirm": true, "capture": map[string]any{"method": "form"}})
		if want := map[bool]int{true: 201, false: 429}[i < 2]; code != want || i >= 2 && !strings.Contains(string(body), "sub-addresses") {
			t.Fatalf("confirmation %d to the mailbox victim@example.org (%s): %d %s", i+1, to, code, body)
		}
	}
	// The refusal says when the mailbox's 24-hour bound lets a mail go
	// again (its first mail was just sent): not in an hour.
	b, _ := json.Marshal(map[string]any{"recipient": "victim+4@example.org", "list": "news", "basis": "consent",
		"confirm": true, "capture": map[string]any{"method": "form"}})
	req, _ := http.NewRequest("POST", "http://"+s.http+"/api/v1/consents", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+shop)
	req.Header.Set("Content-Type", "application/json")
	if res, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		res.Body.Close()
		if res.StatusCode != 429 || res.Header.Get("Retry-After") != "86400" {
			t.Errorf("a mailbox past its daily bound: %d, Retry-After %q, want 429 and 86400", res.StatusCode, res.Header.Get("Retry-After"))
		}
	}
	code, body = senderAPI(t, s, "POST", "/api/v1/unsubscribe-links", shop, map[string]any{"list": "news", "campaign": "dec",
		"recipients": []string{"bob@example.net", "carol@example.net"}})
	var links struct {
		Links []struct {
			Token, URL, Mailto, ListUnsubscribe string `json:",omitempty"`
		}
	}
	json.Unmarshal(body, &links)
	if code != 200 || len(links.Links) != 2 {
		t.Fatalf("links: %d %s", code, body)
	}
	// A GET is a page; the one-click POST unsubscribes bob, twice the same.
	if !strings.HasPrefix(links.Links[0].URL, "https://accord.test/u/") || !strings.HasSuffix(links.Links[1].Mailto, "@accord.test") {
		t.Fatalf("links name the public URL: %+v", links.Links[0])
	}
	res, err := http.Get(local(links.Links[0].URL))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("GET opt-out page: %v %v", err, res)
	}
	res.Body.Close()
	for i, want := range []string{"you are unsubscribed", "already"} {
		res, err := http.Post(local(links.Links[0].URL), "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Fatalf("one-click POST %d: %d %s", i+1, res.StatusCode, b)
		}
	}
	// carol by mail to the opt-out address on the node's SMTP listener, twice.
	for i := 0; i < 2; i++ {
		if err := smtp.SendMail(s.smtp, nil, "carol@example.net", []string{links.Links[1].Mailto},
			[]byte("From: carol@example.net\r\nSubject: unsubscribe\r\n\r\nunsubscribe\r\n")); err != nil {
			t.Fatalf("mailto opt-out %d: %v", i+1, err)
		}
	}
	if err := smtp.SendMail(s.smtp, nil, "carol@example.net", []string{"unsubscribe+" + strings.Repeat("a", 45) + "@accord.test"},
		[]byte("Subject: x\r\n\r\nx\r\n")); err == nil || !strings.Contains(err.Error(), "550") {
		t.Errorf("forged opt-out address: %v", err)
	}
	code, body = senderAPI(t, s, "GET", "/api/v1/suppressions", shop, nil)
	rows, _ := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if code != 200 || len(rows) != 3 || rows[1][4] != "one-click" || rows[2][4] != "mailto" {
		t.Fatalf("feed: %d %q", code, rows)
	}

	// The proof of bob's history verifies offline against the node's key.
	code, body = senderAPI(t, s, "GET", "/api/v1/consents/proof?recipient=bob@example.net", shop, nil)
	if code != 200 {
		t.Fatalf("proof: %d %s", code, body)
	}
	proof := filepath.Join(t.TempDir(), "proof.json")
	os.WriteFile(proof, body, 0o600)
	key := lastLine(runBin(t, bin, "", "node", "key", "--data", data))
	fp := lastLine(runBin(t, bin, "", "node", "fingerprint", "--data", data))
	if code, out := exitCode(t, bin, "consent", "verify", "--key", key, proof); code != 0 || !strings.Contains(out, "OK:") || !strings.Contains(out, "opted out") ||
		!strings.Contains(out, "(fingerprint "+fp+")") {
		t.Errorf("consent verify: exit %d\n%s", code, out)
	}
	if code, out := exitCode(t, bin, "consent", "verify", proof); code != 3 || !strings.Contains(out, "NOT PINNED") {
		t.Errorf("consent verify without --key: exit %d\n%s", code, out)
	}
	edited := bytes.Replace(body, []byte(`"reason": "one-click"`), []byte(`"reason": "api"`), 1)
	os.WriteFile(proof, edited, 0o600)
	if code, out := exitCode(t, bin, "consent", "verify", "--key", key, proof); code != 1 || !strings.Contains(out, "PROBLEM") {
		t.Errorf("edited proof: exit %d\n%s", code, out)
	}
	out = runBin(t, bin, "", "sender", "show", "shop.example", "--data", data)
	if !strings.Contains(out, "dec") || !strings.Contains(out, "in good standing: true") || !strings.Contains(out, "judged by complainants until 1000 messages are counted: 0 of 3") {
		t.Errorf("sender show:\n%s", out)
	}

	good := lintEndToEnd(t, bin, s, shop, zone)
	labelEndToEnd(t, bin, s, filterAddr, shop, data, key, good)
	feedbackEndToEnd(t, bin, s, sink, shop, data)
}

// mailTo waits for the sink's first message to rcpt.
func mailTo(t *testing.T, sink *sinktest.Sink, rcpt string) []byte {
	t.Helper()
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		ms, err := sink.Messages()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			for _, r := range m.Rcpt {
				if r == rcpt {
					return m.Data
				}
			}
		}
	}
	t.Fatalf("no mail to %s reached the SMTP sink", rcpt)
	return nil
}

var confirmLinkRe = regexp.MustCompile(`https://accord\.test/c/[A-Za-z0-9.=_-]+`)

// confirmedOptIn: the node mails gina the confirmation through the real
// relay; a GET of the link shows a page and confirms nothing; the POST does.
func confirmedOptIn(t *testing.T, s *served, sink *sinktest.Sink, shop string, local func(string) string) {
	code, body := senderAPI(t, s, "POST", "/api/v1/consents", shop, map[string]any{"recipient": "gina@example.net", "list": "news", "basis": "consent",
		"confirm": true, "capture": map[string]any{"method": "form", "text": "Send me the news", "ip": "192.0.2.44"}})
	if code != 201 || strings.Contains(string(body), "/c/") {
		t.Fatalf("POST consent with confirmation: %d %s", code, body)
	}
	msg := mailTo(t, sink, "gina@example.net")
	m, err := netmail.ReadMessage(bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(quotedprintable.NewReader(m.Body))
	link := confirmLinkRe.FindString(string(text))
	if link == "" || !strings.Contains(m.Header.Get("Subject"), "confirm") || m.Header.Get("Auto-Submitted") == "" || m.Header.Get("DKIM-Signature") == "" {
		t.Fatalf("confirmation mail: %v\n%s", m.Header, text)
	}
	// From names the sender gina signed up with, at the node's address;
	// never the desk's name.
	if from := m.Header.Get("From"); !strings.Contains(from, "Shop Ltd (shop.example)") || strings.Contains(from, "complaint desk") {
		t.Errorf("confirmation From: %q", from)
	}
	status := func() string {
		_, b := senderAPI(t, s, "GET", "/api/v1/consents?recipient=gina@example.net", shop, nil)
		var x struct{ Records []struct{ Status string } }
		json.Unmarshal(b, &x)
		if len(x.Records) != 1 {
			t.Fatalf("gina's records: %s", b)
		}
		return x.Records[0].Status
	}
	for i := 0; i < 2; i++ { // a link scanner, twice
		res, err := http.Get(local(link))
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("GET confirmation link: %v %v", err, res)
		}
		res.Body.Close()
	}
	if st := status(); st != "pending" {
		t.Fatalf("after GETs: %s", st)
	}
	res, err := http.Post(local(link), "application/x-www-form-urlencoded", strings.NewReader("confirm=yes")) // the page's button
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("POST confirmation: %v %v", err, res)
	}
	res.Body.Close()
	if st := status(); st != "active" {
		t.Fatalf("after the POST: %s", st)
	}
}

// feedbackEndToEnd: frank complains at the desk's mailbox about a
// campaign he consented to; he is suppressed at once and the authority
// sees "consent on record". (The reports the label test filed about
// shop.example's mail were fed back too: any report is a complaint.)
func feedbackEndToEnd(t *testing.T, bin string, s *served, sink *sinktest.Sink, shop, data string) {
	// ines's message, labelled while the sender is in good standing
	// (frank's complaint below ends it); she complains about it at the end.
	if code, body := senderAPI(t, s, "POST", "/api/v1/consents", shop, map[string]any{"recipient": "ines@example.net", "list": "news", "basis": "consent",
		"capture": map[string]any{"method": "form"}}); code != 201 {
		t.Fatalf("consent for ines: %d %s", code, body)
	}
	_, ib := senderAPI(t, s, "POST", "/api/v1/unsubscribe-links", shop, map[string]any{"list": "news", "campaign": "mar", "recipients": []string{"ines@example.net"}})
	var ilinks struct {
		Links []struct {
			ListUnsubscribe string `json:"list_unsubscribe"`
			URL             string `json:"url"`
		}
	}
	json.Unmarshal(ib, &ilinks)
	graw := signedCampaign(t, "ines@example.net", ilinks.Links[0].ListUnsubscribe, ilinks.Links[0].URL)
	req, _ := http.NewRequest("POST", "http://"+s.http+"/api/v1/labels", bytes.NewReader(graw))
	req.Header.Set("Authorization", "Bearer "+shop)
	req.Header.Set("Content-Type", "message/rfc822")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	lb, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var lab struct{ ID, Header string }
	if json.Unmarshal(lb, &lab); res.StatusCode != 201 || lab.ID == "" {
		t.Fatalf("label for ines's message: %d %s", res.StatusCode, lb)
	}
	code, body := senderAPI(t, s, "POST", "/api/v1/consents", shop, map[string]any{"recipient": "frank@example.net", "list": "news", "basis": "consent",
		"capture": map[string]any{"method": "form"}})
	if code != 201 {
		t.Fatalf("consent for frank: %d %s", code, body)
	}
	_, body = senderAPI(t, s, "POST", "/api/v1/unsubscribe-links", shop, map[string]any{"list": "news", "campaign": "feb", "recipients": []string{"frank@example.net"}})
	var links struct {
		Links []struct {
			ListUnsubscribe string `json:"list_unsubscribe"`
			URL             string `json:"url"`
		}
	}
	json.Unmarshal(body, &links)
	raw := signedCampaign(t, "frank@example.net", links.Links[0].ListUnsubscribe, links.Links[0].URL)
	fwd := "From: frank@example.net\r\nTo: complaints@accord.test\r\nSubject: Fwd: spam\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nI never want this again\r\n--b\r\n" +
		"Content-Type: message/rfc822\r\n\r\n" + string(raw) + "\r\n--b--\r\n"
	if err := smtp.SendMail(s.smtp, nil, "frank@example.net", []string{"complaints@accord.test"}, []byte(fwd)); err != nil {
		t.Fatalf("complaint by mail: %v", err)
	}
	analyst := lastLine(runBin(t, bin, "", "token", "create", "--data", data, "--role", "analyst"))
	type complaint struct {
		ReportID        string `json:"report_id"`
		How             string `json:"identified_by"`
		ConsentOnRecord bool   `json:"consent_on_record"`
		Campaign        string `json:"campaign"`
	}
	var found *complaint
	for deadline := time.Now().Add(10 * time.Second); found == nil && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var sender struct{ Complaints []complaint }
		_, b := senderAPI(t, s, "GET", "/api/v1/senders/shop.example", analyst, nil)
		json.Unmarshal(b, &sender)
		for i, c := range sender.Complaints {
			if c.Campaign == "feb" {
				found = &sender.Complaints[i]
			}
		}
	}
	if found == nil || found.How != "unsubscribe-token" || !found.ConsentOnRecord {
		t.Fatalf("the authority's view of frank's complaint: %+v", found)
	}
	_, b := senderAPI(t, s, "GET", "/api/v1/reports/"+found.ReportID, analyst, nil)
	if !strings.Contains(string(b), `"consent_on_record": true`) {
		t.Errorf("the report does not say consent on record: %s", b)
	}
	_, b = senderAPI(t, s, "GET", "/api/v1/consents?recipient=frank@example.net", shop, nil)
	if !strings.Contains(string(b), `"reason": "complaint"`) || !strings.Contains(string(b), `"status": "withdrawn"`) {
		t.Errorf("frank after his complaint: %s", b)
	}
	// The sender got the complaint as ARF, through the relay, without frank.
	var arf []byte
	for end := time.Now().Add(20 * time.Second); arf == nil && time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		ms, _ := sink.Messages()
		for _, m := range ms {
			if len(m.Rcpt) == 1 && m.Rcpt[0] == "dpo@shop.example" && bytes.Contains(m.Data, []byte("X-Accord-Report: "+found.ReportID)) {
				arf = m.Data
			}
		}
	}
	if arf == nil {
		t.Fatal("no ARF for frank's complaint reached the sender")
	}
	items, err := intake.Extract(arf, intake.Via{})
	if err != nil || len(items) != 1 || items[0].Form != intake.FormARF || items[0].Feedback["Feedback-Type"] != "abuse" ||
		items[0].Feedback["Reported-Domain"] != "shop.example" || items[0].Feedback["X-Accord-Campaign"] != "feb" {
		t.Fatalf("the ARF does not read as ARF: %v %+v", err, items)
	}
	if bytes.Contains(bytes.ToLower(arf), []byte("frank@example.net")) {
		t.Errorf("the ARF shows the recipient's address")
	}

	// ines complains about her labelled message: the node revokes its
	// label, which said she wanted the mail (the new user's trial, F6:
	// the label stayed valid, and the filter scored it −3, until it
	// expired).
	revoked := func() bool {
		res, err := http.Get("http://" + s.http + "/labels/v1/status")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return bytes.Contains(b, []byte(lab.ID))
	}
	if revoked() {
		t.Fatal("ines's label is revoked before she complained")
	}
	fwd = "From: ines@example.net\r\nTo: complaints@accord.test\r\nSubject: Fwd: spam\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nStop this\r\n--b\r\n" +
		"Content-Type: message/rfc822\r\n\r\n" + lab.Header + string(graw) + "\r\n--b--\r\n"
	if err := smtp.SendMail(s.smtp, nil, "ines@example.net", []string{"complaints@accord.test"}, []byte(fwd)); err != nil {
		t.Fatalf("ines's complaint by mail: %v", err)
	}
	done := false
	for end := time.Now().Add(15 * time.Second); !done && time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		done = revoked()
	}
	if !done {
		t.Errorf("ines's label %s is not on the status list after her complaint", lab.ID)
	}
}

// labelEndToEnd asks the node for a label, checks it through the node's
// own analysis and offline with the node's key, then copies it onto
// another message, and revokes it.
func labelEndToEnd(t *testing.T, bin string, s *served, filterAddr, shop, data, key, good string) {
	raw, _ := os.ReadFile(good)
	req, _ := http.NewRequest("POST", "http://"+s.http+"/api/v1/labels?recipient=dave@example.net&list=news&ttl=72h", bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+shop)
	req.Header.Set("Content-Type", "message/rfc822")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var lab struct{ ID, Header string }
	json.Unmarshal(body, &lab)
	if res.StatusCode != 201 || !strings.HasPrefix(lab.Header, "Accord-Label: v=3;") {
		t.Fatalf("label request: %d %s", res.StatusCode, body)
	}
	dir := t.TempDir()
	labelled := filepath.Join(dir, "labelled.eml")
	os.WriteFile(labelled, append([]byte(lab.Header), raw...), 0o600)
	// A message that does not lint clean gets no label.
	req, _ = http.NewRequest("POST", "http://"+s.http+"/api/v1/labels", strings.NewReader("From: news@shop.example\r\nSubject: x\r\n\r\nBuy now, 50% off!\r\n"))
	req.Header.Set("Authorization", "Bearer "+shop)
	req.Header.Set("Content-Type", "message/rfc822")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 422 {
		t.Errorf("label for a non-compliant message: %v %v", err, res.StatusCode)
	}

	// Accord's own filter, asked as rspamd is (POST /checkv2), recognises
	// the label; the label copied onto another message is refused.
	symbols := func(msg []byte) string {
		res, err := http.Post("http://"+filterAddr+"/checkv2", "message/rfc822", bytes.NewReader(msg))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out struct{ Symbols map[string]any }
		json.NewDecoder(res.Body).Decode(&out)
		var names []string
		for n := range out.Symbols {
			names = append(names, n)
		}
		return " " + strings.Join(names, " ") + " "
	}
	if got := symbols(append([]byte(lab.Header), raw...)); !strings.Contains(got, " ACCORD_LABEL ") || !strings.Contains(got, " DMARC_PASS ") {
		t.Errorf("the filter on the labelled message: %s", got)
	}
	other := signedCampaign(t, "erin@example.net", "<https://accord.test/u/x>", "https://accord.test/u/x")
	copied := filepath.Join(dir, "copied.eml")
	os.WriteFile(copied, append([]byte(lab.Header), other...), 0o600)
	if got := symbols(append([]byte(lab.Header), other...)); !strings.Contains(got, " ACCORD_LABEL_INVALID ") || strings.Contains(got, " ACCORD_LABEL ") {
		t.Errorf("the filter on a copied label: %s", got)
	}

	// Offline, with the node's published key and its status list.
	status := filepath.Join(dir, "status.json")
	fetch := func() {
		res, err := http.Get("http://" + s.http + "/labels/v1/status")
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("status list: %v %v", err, res)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		os.WriteFile(status, b, 0o600)
	}
	fetch()
	if code, out := exitCode(t, bin, "label", "verify", "--key", key, "--status", status, labelled); code != 0 || !strings.Contains(out, "VALID") ||
		!strings.Contains(out, "issued by node key "+lastLine(runBin(t, bin, "", "node", "fingerprint", "--data", data))) {
		t.Errorf("label verify: exit %d\n%s", code, out)
	}
	// Without a status list the revocation state is unknown: not exit 0.
	if code, out := exitCode(t, bin, "label", "verify", "--key", key, labelled); code != 3 || !strings.Contains(out, "REVOCATION-UNKNOWN") {
		t.Errorf("label verify without a status list: exit %d\n%s", code, out)
	}
	if code, out := exitCode(t, bin, "label", "verify", "--key", key, copied); code != 1 || !strings.Contains(out, "INVALID") {
		t.Errorf("label verify of a copied label: exit %d\n%s", code, out)
	}
	if code, _ := exitCode(t, bin, "label", "verify", "--key", "bm90IGEga2V5", labelled); code != 2 {
		t.Errorf("label verify with a bad key: exit %d", code)
	}
	// A fingerprint (what consent and evidence verify take) is refused
	// with what to give instead.
	fp := lastLine(runBin(t, bin, "", "node", "fingerprint", "--data", data))
	if code, out := exitCode(t, bin, "label", "verify", "--key", fp, labelled); code != 2 || !strings.Contains(out, "is a fingerprint") || !strings.Contains(out, "accord node key") {
		t.Errorf("label verify with a fingerprint: exit %d\n%s", code, out)
	}
	runBin(t, bin, "", "label", "revoke", lab.ID, "--reason", "test revocation", "--data", data)
	time.Sleep(2100 * time.Millisecond) // the node makes its list again at most every 2 seconds
	fetch()
	if code, out := exitCode(t, bin, "label", "verify", "--key", key, "--status", status, labelled); code != 1 || !strings.Contains(out, "REVOKED") {
		t.Errorf("label verify after revocation: exit %d\n%s", code, out)
	}
}

func lintEndToEnd(t *testing.T, bin string, s *served, shop, zone string) string {
	dir := t.TempDir()
	code, body := senderAPI(t, s, "POST", "/api/v1/consents", shop, map[string]any{"recipient": "dave@example.net", "list": "news", "basis": "consent",
		"capture": map[string]any{"method": "form", "text": "Send me the news"}})
	if code != 201 {
		t.Fatalf("consent for dave: %d %s", code, body)
	}
	_, body = senderAPI(t, s, "POST", "/api/v1/unsubscribe-links", shop, map[string]any{"list": "news", "campaign": "jan", "recipients": []string{"dave@example.net"}})
	var links struct {
		Links []struct {
			ListUnsubscribe string `json:"list_unsubscribe"`
			URL             string `json:"url"`
		}
	}
	json.Unmarshal(body, &links)
	good := filepath.Join(dir, "good.eml")
	os.WriteFile(good, signedCampaign(t, "dave@example.net", links.Links[0].ListUnsubscribe, links.Links[0].URL), 0o600)
	env := append(os.Environ(), "ACCORD_TOKEN="+shop)
	run := func(args ...string) (int, string) {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	node := "http://" + s.http
	if code, out := run("lint", "--resolver", zone, "--jurisdiction", "EU,US", "--node", node, "--recipient", "dave@example.net", "--list", "news", good); code != 0 ||
		!strings.Contains(out, "0 breaches") {
		t.Errorf("lint of a compliant campaign: exit %d\n%s", code, out)
	}
	// The same campaign to bob, who opted out.
	if code, out := run("lint", "--resolver", zone, "--node", node, "--recipient", "bob@example.net", "--list", "news", good); code != 1 ||
		!strings.Contains(out, "opted out") {
		t.Errorf("lint to an opted-out recipient: exit %d\n%s", code, out)
	}
	bad := filepath.Join(dir, "bad.eml")
	os.WriteFile(bad, []byte("From: Shop <news@shop.example>\r\nTo: dave@example.net\r\nSubject: Sale\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n\r\n"+
		"Our winter sale: 20% off every coat, from $49. Buy at https://shop.example/sale\r\n"), 0o600)
	code, out := run("lint", "--resolver", zone, "--jurisdiction", "EU,US", "--json", bad)
	var rep struct {
		Breaches int
		Findings []struct {
			Check, Status string
			Citations     []string
		}
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 1 || rep.Breaches < 5 {
		t.Fatalf("lint of a non-compliant campaign: exit %d %v\n%s", code, err, out)
	}
	want := map[string]bool{"optout.one-click": false, "auth.dkim": false, "law.us-7704a5-postal-address": false, "law.eu-valid-opt-out": false}
	for _, f := range rep.Findings {
		if _, ok := want[f.Check]; ok && f.Status == "breach" && len(f.Citations) > 0 {
			want[f.Check] = true
		}
	}
	for c, seen := range want {
		if !seen {
			t.Errorf("no breach %s with a citation", c)
		}
	}
	if code, _ := run("lint", "--recipient", "x@example.net", bad); code != 2 {
		t.Errorf("--recipient without a sender: exit %d", code)
	}
	return good
}
