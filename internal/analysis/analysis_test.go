package analysis

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/resolve"
	"github.com/accord-antispam/accord/internal/rules"
	"github.com/accord-antispam/accord/internal/trace"
)

// A marketing message relayed from 198.51.100.20 through our MX; the mail
// store wrote the Return-Path at delivery, on top.
const newsletter = "Return-Path: <bounce@mail.shop.example>\r\n" +
	"Received: from mx.example.net (mx.example.net [10.0.0.5]) by store.example.net (Postfix) with ESMTP id 1; Tue, 3 Nov 2026 10:00:02 +0100\r\n" +
	"Received: from out.shop.example (out.shop.example [198.51.100.20]) by mx.example.net (Postfix) with ESMTPS id 2; Tue, 3 Nov 2026 10:00:01 +0100\r\n" +
	"From: Shop <news@shop.example>\r\n" +
	"To: you@example.net\r\n" +
	"Subject: Spring sale: 30% off\r\n" +
	"Date: Tue, 3 Nov 2026 10:00:00 +0100\r\n" +
	"Message-ID: <n1@shop.example>\r\n" +
	"List-Unsubscribe: <https://shop.example/unsub/t0k3n>, <mailto:unsub@shop.example>\r\n" +
	"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"\r\n" +
	"Order now and save up to 30% on every jacket. Only $49.99!\r\n" +
	"Shop Ltd, 10 Market Street, Springfield, IL 62701\r\n"

func signedNewsletter(t *testing.T) (string, *resolve.Zone) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	err = dkim.Sign(&out, strings.NewReader(newsletter), &dkim.SignOptions{
		Domain: "shop.example", Selector: "k1", Signer: priv,
		HeaderKeys: []string{"From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post"},
	})
	if err != nil {
		t.Fatal(err)
	}
	z := &resolve.Zone{}
	z.AddTXT("k1._domainkey.shop.example", "v=DKIM1; k=ed25519; p="+base64.StdEncoding.EncodeToString(pub))
	z.AddTXT("mail.shop.example", "v=spf1 ip4:198.51.100.0/24 -all")
	z.AddTXT("_dmarc.shop.example", "v=DMARC1; p=reject")
	return out.String(), z
}

func analyzer(t testing.TB, r resolve.Resolver) *Analyzer {
	lib, err := rules.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	return &Analyzer{Resolver: r, Rules: lib, Jurisdictions: []string{"EU", "US"}}
}

func analyze(t *testing.T, a *Analyzer, raw string, cx Context) *Verdict {
	t.Helper()
	v, err := a.Analyze(context.Background(), Input{Source: "t.eml", Message: mail.ParseBytes([]byte(raw), mail.Limits{}), Context: cx})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVerdictForAuthenticatedNewsletter(t *testing.T) {
	raw, z := signedNewsletter(t)
	v := analyze(t, analyzer(t, z), raw, Context{})
	if v.Origin.IP != "198.51.100.20" || v.Origin.RDNS != "out.shop.example" || v.Origin.Hop != 1 {
		t.Errorf("origin = %+v", v.Origin)
	}
	a := v.Auth
	if a.SPF.Result != "pass" || a.SPF.Domain != "mail.shop.example" {
		t.Errorf("SPF = %+v", a.SPF)
	}
	if len(a.DKIM) != 1 || a.DKIM[0].Result != "pass" || !a.DKIM[0].Aligned {
		t.Errorf("DKIM = %+v", a.DKIM)
	}
	if a.DMARC.Result != "pass" || !a.DMARC.SPFAligned || !a.DMARC.DKIMAligned || a.DMARC.Applied != "reject" {
		t.Errorf("DMARC = %+v", a.DMARC)
	}
	if v.Sender.IdentityDisguised != rules.False || !v.Sender.Alignment.ReturnPath {
		t.Errorf("sender = %+v", v.Sender)
	}
	if v.OptOut.Valid != rules.True || !v.OptOut.OneClick || !v.OptOut.OneClickSigned {
		t.Errorf("opt-out = %+v", v.OptOut)
	}
	if v.Commercial.Likely != rules.True {
		t.Errorf("commercial = %+v", v.Commercial)
	}
	status := map[string]rules.Status{}
	for _, j := range v.Legal {
		for _, r := range j.Rules {
			status[r.Rule] = r.Status
		}
	}
	want := map[string]rules.Status{
		"eu-prior-consent": "needs-context", "eu-identity-not-disguised": "ok", "eu-valid-opt-out": "ok",
		"us-7704a1-header": "ok", "us-7704a3-opt-out": "ok", "us-7704a5-postal-address": "ok", "us-7704a5-ad-label": "needs-context",
	}
	for r, s := range want {
		if status[r] != s {
			t.Errorf("%s = %s, want %s", r, status[r], s)
		}
	}
	// With the reporter's answers, consent can be judged.
	v = analyze(t, analyzer(t, z), raw, Context{Consent: rules.False, ExistingCustomer: rules.False})
	if v.Legal[0].Rules[0].Status != "breach" {
		t.Errorf("consent with answers = %s", v.Legal[0].Rules[0].Status)
	}
}

func TestSpoofedCopyFailsDMARC(t *testing.T) {
	raw, z := signedNewsletter(t)
	// Same message, altered in transit and sent from another network.
	spoof := strings.Replace(raw, "198.51.100.20", "203.0.113.66", 1)
	spoof = strings.Replace(spoof, "every jacket", "every watch", 1)
	spoof = strings.Replace(spoof, "List-Unsubscribe: <https://shop.example/unsub/t0k3n>, <mailto:unsub@shop.example>\r\n", "", 1)
	v := analyze(t, analyzer(t, z), spoof, Context{})
	if v.Auth.DMARC.Result != "fail" || v.Sender.IdentityDisguised != rules.True {
		t.Fatalf("DMARC %+v, identity %v", v.Auth.DMARC, v.Sender.IdentityDisguised)
	}
	codes := map[ReasonCode]bool{}
	for _, r := range v.Reasons {
		codes[r.Code] = true
	}
	for _, c := range []ReasonCode{ReasonDMARCFail, ReasonSPFFail, ReasonDKIMFail, ReasonIdentityDisguised, ReasonLegalBreach} {
		if !codes[c] {
			t.Errorf("reason %s missing: %+v", c, v.Reasons)
		}
	}
}

func TestOfflineAndGivenTrust(t *testing.T) {
	raw, _ := signedNewsletter(t)
	a := analyzer(t, resolve.Offline{})
	v := analyze(t, a, raw, Context{})
	if !v.Auth.Offline || v.Auth.SPF.Result != "none" || v.Auth.DKIM[0].Result != "none" || v.Sender.IdentityDisguised != rules.Unknown {
		t.Errorf("offline verdict: auth %+v identity %v", v.Auth, v.Sender.IdentityDisguised)
	}
	tr, err := trace.ParseTrust("198.51.100.0/24,10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	a.Trust = tr
	if v := analyze(t, a, raw, Context{}); v.Origin.IP != "" || v.Origin.Trust != "inferred" {
		t.Errorf("--trusted adds to the inference: origin = %+v", v.Origin)
	}
	tr.Only = true
	a.Trust = tr
	if v := analyze(t, a, raw, Context{}); v.Origin.IP != "" || v.Origin.Trust != "given" {
		t.Errorf("--trusted-only: origin = %+v", v.Origin)
	}
}

func TestVerdictJSONShape(t *testing.T) {
	v := analyze(t, analyzer(t, resolve.Offline{}), "Subject: x\r\n\r\nhello\r\n", Context{})
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"schema_version", "source", "message", "origin", "auth", "sender", "opt_out", "commercial", "content", "legal", "reasons"} {
		if _, ok := m[k]; !ok {
			t.Errorf("verdict JSON lacks %q", k)
		}
	}
	// Empty lists are [] not null, so consumers need no null checks; only
	// the documented optional objects may be null.
	var walk func(path string, x any)
	walk = func(path string, x any) {
		switch x := x.(type) {
		case nil:
			if !strings.HasSuffix(path, ".date_parsed") && !strings.HasSuffix(path, ".network") {
				t.Errorf("%s is null", path)
			}
		case map[string]any:
			for k, v := range x {
				walk(path+"."+k, v)
			}
		case []any:
			for _, v := range x {
				walk(path+"[]", v)
			}
		}
	}
	walk("", m)
	if v.Sender.IdentityDisguised != rules.True {
		t.Errorf("no From: identity = %v", v.Sender.IdentityDisguised)
	}
}

// The spammer writes an Authentication-Results field in our receiver's name
// below a hop it also wrote: it is not believed, it is a forgery finding,
// and the identity is disguised.
func TestForgedAuthenticationResults(t *testing.T) {
	msg := "Received: from mx.example.net (mx.example.net [10.0.0.5]) by store.example.net (Postfix) with ESMTP id 1; Tue, 3 Nov 2026 10:00:02 +0100\r\n" +
		"Received: from bot.example (unknown [198.51.100.9]) by mx.example.net (Postfix) with SMTP id 2; Tue, 3 Nov 2026 10:00:01 +0100\r\n" +
		"Authentication-Results: mx.example.net; spf=pass smtp.mailfrom=paypal.com; dkim=pass header.d=paypal.com; dmarc=pass header.from=paypal.com\r\n" +
		"Received: from paypal.com ([203.0.113.5]) by relay.paypal.com with ESMTP; Tue, 3 Nov 2026 09:59:00 +0100\r\n" +
		"From: PayPal <service@paypal.com>\r\n" +
		"To: you@example.net\r\n" +
		"Subject: Your account is limited\r\n" +
		"Date: Tue, 3 Nov 2026 10:00:00 +0100\r\n" +
		"Message-ID: <x1@paypal.com>\r\n" +
		"\r\n" +
		"Confirm your details.\r\n"
	v := analyze(t, analyzer(t, resolve.Offline{}), msg, Context{})
	if v.Origin.IP != "198.51.100.9" {
		t.Fatalf("origin %+v", v.Origin)
	}
	if v.Auth.DMARC.Result != "none" || v.Auth.SPF.Result != "none" || len(v.Auth.DKIM) != 0 {
		t.Errorf("the forged field was believed: spf %s dmarc %s dkim %+v", v.Auth.SPF.Result, v.Auth.DMARC.Result, v.Auth.DKIM)
	}
	if len(v.Auth.Headers) != 1 || v.Auth.Headers[0].Trusted || !v.Auth.Headers[0].Forged {
		t.Errorf("headers %+v", v.Auth.Headers)
	}
	found := false
	for _, f := range v.Sender.Findings {
		found = found || f.Code == "forged-authentication-results" && f.Strength == rules.Strong
	}
	if !found || v.Sender.IdentityDisguised != rules.True {
		t.Errorf("identity %v, findings %+v", v.Sender.IdentityDisguised, v.Sender.Findings)
	}
	codes := map[ReasonCode]bool{}
	for _, r := range v.Reasons {
		codes[r.Code] = true
	}
	if !codes[ReasonForgedAuthResults] {
		t.Errorf("reasons %+v", v.Reasons)
	}
	validate(t, verdictSchema(t), v)
}
