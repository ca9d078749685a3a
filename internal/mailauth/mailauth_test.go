package mailauth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"net/netip"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/resolve"
)

const unsigned = "From: Alice <alice@example.org>\r\n" +
	"To: bob@example.net\r\n" +
	"Subject: Quarterly figures\r\n" +
	"Date: Tue, 3 Nov 2026 10:00:00 +0100\r\n" +
	"Message-ID: <q1@example.org>\r\n" +
	"\r\n" +
	"The figures are attached.\r\n"

type keyPair struct {
	signer crypto.Signer
	txt    string
}

func rsaKey(t *testing.T) keyPair {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	return keyPair{k, "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)}
}

func edKey(t *testing.T) keyPair {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return keyPair{priv, "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)}
}

func sign(t *testing.T, msg, domain, selector string, k keyPair) string {
	t.Helper()
	var out bytes.Buffer
	opts := &dkim.SignOptions{Domain: domain, Selector: selector, Signer: k.signer,
		HeaderKeys: []string{"From", "To", "Subject", "Date", "Message-ID"}}
	if err := dkim.Sign(&out, strings.NewReader(msg), opts); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func check(t *testing.T, z resolve.Resolver, raw string, in Input) *Results {
	t.Helper()
	in.Message = mail.ParseBytes([]byte(raw), mail.Limits{})
	res, err := Check(context.Background(), z, in)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestDKIMWithFixtureKeys(t *testing.T) {
	rk, ek := rsaKey(t), edKey(t)
	z := &resolve.Zone{}
	z.AddTXT("rsa._domainkey.example.org", rk.txt)
	z.AddTXT("ed._domainkey.mail.example.org", ek.txt)
	z.AddFail("flaky._domainkey.example.org")
	signed := sign(t, sign(t, unsigned, "example.org", "rsa", rk), "mail.example.org", "ed", ek)

	res := check(t, z, signed, Input{})
	if len(res.DKIM) != 2 {
		t.Fatalf("signatures = %+v", res.DKIM)
	}
	for _, s := range res.DKIM {
		if s.Result != Pass || s.Source != SourceComputed || !s.Aligned {
			t.Errorf("signature %s/%s: %+v", s.Domain, s.Selector, s)
		}
	}
	if res.DKIM[0].Algorithm != "ed25519-sha256" || res.DKIM[1].Algorithm != "rsa-sha256" {
		t.Errorf("algorithms: %s, %s", res.DKIM[0].Algorithm, res.DKIM[1].Algorithm)
	}

	// Stored with bare LF line ends, as mailboxes keep it: still passes.
	lf := strings.ReplaceAll(signed, "\r\n", "\n")
	if res := check(t, z, lf, Input{}); res.DKIM[0].Result != Pass {
		t.Errorf("LF-stored message: %+v", res.DKIM[0])
	}

	tampered := strings.Replace(signed, "attached", "ATTACHED", 1)
	for _, s := range check(t, z, tampered, Input{}).DKIM {
		if s.Result != Fail {
			t.Errorf("tampered body %s: %+v", s.Domain, s)
		}
	}

	other := sign(t, unsigned, "example.org", "missing", rk)
	if s := check(t, z, other, Input{}).DKIM[0]; s.Result != PermError {
		t.Errorf("no key published: %+v", s)
	}
	flaky := sign(t, unsigned, "example.org", "flaky", rk)
	if s := check(t, z, flaky, Input{}).DKIM[0]; s.Result != TempError {
		t.Errorf("SERVFAIL on key: %+v", s)
	}
}

func TestSPFResults(t *testing.T) {
	z, err := resolve.ParseZone(strings.NewReader(`
example.org      TXT "v=spf1 ip4:192.0.2.0/24 -all"
soft.example     TXT "v=spf1 ip4:192.0.2.0/24 ~all"
neutral.example  TXT "v=spf1 ?all"
broken.example   TXT "v=spf1 ip4:not-an-ip -all"
loop.example     TXT "v=spf1 include:loop.example -all"
helo.example     TXT "v=spf1 a -all"
helo.example     A   198.51.100.4
dead.example     SERVFAIL
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ip, helo, from string
		want           Result
		identity       string
	}{
		{"192.0.2.10", "mx.example.org", "bounce@example.org", Pass, "mailfrom"},
		{"198.51.100.1", "mx.example.org", "bounce@example.org", Fail, "mailfrom"},
		{"198.51.100.1", "x", "a@soft.example", SoftFail, "mailfrom"},
		{"198.51.100.1", "x", "a@neutral.example", Neutral, "mailfrom"},
		{"198.51.100.1", "x", "a@broken.example", PermError, "mailfrom"},
		{"198.51.100.1", "x", "a@loop.example", PermError, "mailfrom"},
		{"198.51.100.1", "x", "a@nospf.example", None, "mailfrom"},
		{"198.51.100.1", "x", "a@dead.example", TempError, "mailfrom"},
		{"198.51.100.4", "helo.example", "", Pass, "helo"},
	} {
		res := check(t, z, unsigned, Input{IP: netip.MustParseAddr(c.ip), HELO: c.helo, MailFrom: c.from})
		if res.SPF.Result != c.want || res.SPF.Identity != c.identity {
			t.Errorf("SPF %s from %q: %+v, want %s", c.ip, c.from, res.SPF, c.want)
		}
	}
}

func TestDMARCAlignment(t *testing.T) {
	ek := edKey(t)
	z := &resolve.Zone{}
	z.AddTXT("_dmarc.example.org", "v=DMARC1; p=reject; sp=quarantine; adkim=s; aspf=r; pct=50")
	z.AddTXT("_dmarc.relaxed.example", "v=DMARC1; p=quarantine")
	z.AddTXT("ed._domainkey.mail.example.org", ek.txt)
	z.AddTXT("ed._domainkey.relaxed.example", ek.txt)
	z.AddTXT("bounce.example.org", "v=spf1 ip4:192.0.2.0/24 -all")
	z.AddTXT("relaxed.example", "v=spf1 -all")

	// DKIM by a subdomain: aligned only in relaxed mode; adkim=s here.
	msg := sign(t, unsigned, "mail.example.org", "ed", ek)
	res := check(t, z, msg, Input{IP: netip.MustParseAddr("198.51.100.1"), MailFrom: "x@bounce.example.org"})
	d := res.DMARC
	if d.Result != Fail || d.DKIMAligned || d.SPFAligned || d.Policy != "reject" || d.Applied != "reject" || d.Percent != 50 || d.ADKIM != "s" {
		t.Errorf("strict DKIM, failing SPF: %+v", d)
	}
	// SPF pass on a subdomain of the From domain: aligned under aspf=r.
	res = check(t, z, msg, Input{IP: netip.MustParseAddr("192.0.2.7"), MailFrom: "x@bounce.example.org"})
	if d := res.DMARC; d.Result != Pass || !d.SPFAligned || d.DKIMAligned {
		t.Errorf("relaxed SPF alignment: %+v", d)
	}
	// Relaxed DKIM alignment.
	rel := strings.Replace(unsigned, "alice@example.org", "alice@news.relaxed.example", 1)
	res = check(t, z, sign(t, rel, "relaxed.example", "ed", ek), Input{IP: netip.MustParseAddr("198.51.100.1"), MailFrom: "x@relaxed.example"})
	if d := res.DMARC; d.Result != Pass || !d.DKIMAligned || d.RecordDomain != "relaxed.example" || d.Applied != "quarantine" {
		t.Errorf("relaxed DKIM alignment via the organizational record: %+v", d)
	}
	// No record at all.
	none := strings.Replace(unsigned, "alice@example.org", "alice@nodmarc.example", 1)
	if d := check(t, z, none, Input{}).DMARC; d.Result != None {
		t.Errorf("no record: %+v", d)
	}
}

// Microsoft 365 tenants are organisations of their own
// (dnsname.platformSuffixes): one tenant's signature does not align with
// another tenant's From, as it would under the Public Suffix List alone
// (both "onmicrosoft.com"); the tenant's own signature does.
func TestDKIMOfOneTenantDoesNotAlignWithAnother(t *testing.T) {
	ek := edKey(t)
	z := &resolve.Zone{}
	z.AddTXT("ed._domainkey.spamtenant.onmicrosoft.com", ek.txt)
	z.AddTXT("ed._domainkey.acmecorp.onmicrosoft.com", ek.txt)
	from := strings.Replace(unsigned, "alice@example.org", "it@acmecorp.onmicrosoft.com", 1)
	res := check(t, z, sign(t, from, "spamtenant.onmicrosoft.com", "ed", ek), Input{})
	if d := res.DKIM[0]; d.Result != Pass || d.Aligned || res.DMARC.DKIMAligned {
		t.Errorf("another tenant's signature: dkim %+v, dmarc %+v", d, res.DMARC)
	}
	res = check(t, z, sign(t, from, "acmecorp.onmicrosoft.com", "ed", ek), Input{})
	if d := res.DKIM[0]; d.Result != Pass || !d.Aligned {
		t.Errorf("the tenant's own signature: dkim %+v", d)
	}
}

func TestOfflineReadsOnlyTrustedHeaders(t *testing.T) {
	msg := "Authentication-Results: mx.example.net; spf=pass (sender IP is 192.0.2.10) smtp.mailfrom=bounce.example.org;\r\n" +
		" dkim=pass header.d=example.org header.s=rsa header.b=abc; dmarc=pass (p=REJECT) header.from=example.org\r\n" +
		"Received: from mail.example.org (mail.example.org [192.0.2.10]) by mx.example.net (Postfix) with ESMTPS id 1; Tue, 3 Nov 2026 10:00:00 +0100\r\n" +
		"Authentication-Results: forged.example; spf=pass smtp.mailfrom=evil.example\r\n" +
		"DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=rsa; h=from; bh=x; b=y\r\n" + unsigned
	res := check(t, resolve.Offline{}, msg, Input{AR: ARTrust{Above: 2, Receivers: []string{"mx.example.net"}}})
	if !res.Offline || res.SPF.Result != Pass || res.SPF.Source != SourceHeader || res.SPF.Domain != "bounce.example.org" {
		t.Errorf("SPF = %+v", res.SPF)
	}
	if len(res.DKIM) != 1 || res.DKIM[0].Result != Pass || res.DKIM[0].Selector != "rsa" {
		t.Errorf("DKIM = %+v", res.DKIM)
	}
	if res.DMARC.Result != Pass || res.DMARC.Policy != "reject" {
		t.Errorf("DMARC = %+v", res.DMARC)
	}
	if len(res.Headers) != 2 || !res.Headers[0].Trusted || res.Headers[1].Trusted {
		t.Errorf("headers = %+v", res.Headers)
	}
	// Nothing trusted: "none", never the forged field's pass.
	res = check(t, resolve.Offline{}, msg, Input{AR: ARTrust{Above: 0, Receivers: []string{"mx.example.net"}}})
	if res.SPF.Result != None || res.DMARC.Result != None || res.DKIM[0].Result != None {
		t.Errorf("untrusted headers believed: %+v", res)
	}
}

// FuzzParseAuthResults checks properties that a wrong parser breaks:
//   - results carry registered names, and a parsed field has an
//     authserv-id or a result;
//   - what a receiver echoes of the sender stays text: the fuzzed text as an
//     envelope sender's local part (an atom: no white space or specials;
//     or any text, quoted, also inside a comment) never adds, drops or
//     changes the receiver's own results;
//   - parsing allocates memory in proportion to the field's length
//     (BenchmarkParseAuthResults shows the time).
func FuzzParseAuthResults(f *testing.F) {
	f.Add(`mx.example.net 1; spf=pass (x) smtp.mailfrom=a@b.example; dkim=fail reason="bad sig" header.d=b.example`)
	f.Add(`example.com; none`)
	f.Add(`=?us-ascii?q?x=3B_dkim=3Dpass_header.d=3Dpaypal.com=3B_dmarc=3Dpass=3B?=`)
	f.Add(`x(y`)
	f.Add(`a"b\`)
	f.Add("x; spf=pass a" + strings.Repeat(" =", 5000))
	f.Fuzz(func(t *testing.T, s string) {
		ar, ok := ParseAuthResults(s)
		if ok && ar.AuthServID == "" && len(ar.Results) == 0 {
			t.Fatal("parsed without an authserv-id or a result")
		}
		for _, r := range ar.Results {
			if MapResult(string(r.Result)) != r.Result {
				t.Fatalf("result %q is not a registered name", r.Result)
			}
		}
		if n := allocated(func() { ParseAuthResults(s) }); n > 256*uint64(len(s))+1<<16 {
			t.Fatalf("%d bytes allocated for a field of %d", n, len(s))
		}
		s = strings.NewReplacer("\r", "", "\n", "").Replace(s)
		atom := strings.Map(func(r rune) rune {
			if strings.ContainsRune(" \t;()\"\\", r) {
				return -1
			}
			return r
		}, s)
		quoted := `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
		for _, lp := range []string{atom, quoted} {
			if lp == "" {
				continue
			}
			v := "mx.example.net; spf=pass (mx.example.net: domain of " + lp + "@spam.example designates 203.0.113.7 as permitted sender) smtp.mailfrom=" + lp + "@spam.example; dmarc=fail header.from=paypal.com"
			ar, ok := ParseAuthResults(v)
			if !ok || ar.AuthServID != "mx.example.net" || len(ar.Results) != 2 ||
				ar.Results[0].Method != "spf" || ar.Results[0].Result != Pass ||
				ar.Results[1].Method != "dmarc" || ar.Results[1].Result != Fail || ar.Results[1].Props["header.from"] != "paypal.com" {
				t.Fatalf("echoed %q changed the receiver's results: %+v", lp, ar)
			}
		}
	})
}

// The forms real receivers write: Microsoft's without an authserv-id (and
// with compauth and action), Gmail's with the policy in a comment, one
// encoded as RFC 2047 words, and values outside the registry.
func TestParseProviderForms(t *testing.T) {
	ms, ok := ParseAuthResults("spf=pass (sender IP is 192.0.2.25) smtp.mailfrom=example.org; dkim=none (message not signed) header.d=none;dmarc=bestguesspass action=none header.from=example.org;compauth=pass reason=109")
	if !ok || ms.AuthServID != "" || len(ms.Results) != 4 {
		t.Fatalf("Microsoft form: %+v", ms)
	}
	if r := ms.Results[2]; r.Method != "dmarc" || r.Result != None || r.Raw != "bestguesspass" || r.Props["action"] != "none" {
		t.Errorf("dmarc = %+v", r)
	}
	if r := ms.Results[3]; r.Method != "compauth" || r.Result != Pass || r.Props["reason"] != "109" {
		t.Errorf("compauth = %+v", r)
	}
	g, ok := ParseAuthResults("mx.google.com; dkim=pass header.i=@example.org header.s=s1 header.b=AbC; spf=pass (google.com: domain of a@example.org designates 192.0.2.7 as permitted sender) smtp.mailfrom=a@example.org; dmarc=pass (p=REJECT sp=NONE dis=NONE) header.from=example.org")
	if !ok || g.AuthServID != "mx.google.com" || len(g.Results) != 3 || commentIP(g.Results[1].Comment) != "192.0.2.7" {
		t.Fatalf("Gmail form: %+v", g)
	}
	enc, ok := ParseAuthResults("=?utf-8?B?c3BmPXRlbXBlcnJvciAoc2VuZGVyIElQIGlzIDE5Mi4wLjIuOSkgc210cC5tYWlsZnJvbT1leGFtcGxlLm9yZzsgZGtpbT10aW1lb3V0IGhlYWRlci5kPWV4YW1wbGUub3Jn?=")
	if !ok || enc.AuthServID != "" || len(enc.Results) != 2 || enc.Results[0].Result != TempError || enc.Results[1].Result != TempError || enc.Results[1].Raw != "timeout" {
		t.Fatalf("encoded field: %+v", enc)
	}
	for raw, want := range map[string]Result{"hardfail": Fail, "reject": Fail, "quarantine": Fail, "bestguesspass": None, "timeout": TempError, "permfail": PermError, "other": Neutral, "PASS": Pass, "": None, "policy": Policy} {
		if got := MapResult(raw); got != want {
			t.Errorf("MapResult(%q) = %q, want %q", raw, got, want)
		}
	}
}

// A field is believed only where a trusted receiver could have written it,
// under a trusted receiver's name; the spammer's copy below the boundary in
// the receiver's name is marked forged.
func TestAuthResultsTrustNeedsPositionAndName(t *testing.T) {
	msg := "Authentication-Results: mx.example.net; spf=fail smtp.mailfrom=paypal.example; dmarc=fail header.from=paypal.example\r\n" +
		"Authentication-Results: filter.other.example; spf=pass smtp.mailfrom=paypal.example\r\n" +
		"Received: from bot.example (unknown [198.51.100.9]) by mx.example.net (Postfix) with SMTP id 1; Tue, 3 Nov 2026 10:00:00 +0100\r\n" +
		"Authentication-Results: mx.example.net; spf=pass smtp.mailfrom=paypal.example; dkim=pass header.d=paypal.example; dmarc=pass header.from=paypal.example\r\n" +
		"Received: from [10.0.0.1] by mx.example.net with SMTP; Tue, 3 Nov 2026 09:59:00 +0100\r\n" +
		strings.Replace(unsigned, "alice@example.org", "service@paypal.example", 1)
	res := check(t, resolve.Offline{}, msg, Input{AR: ARTrust{Above: 2, Receivers: []string{"mx.example.net"}, OriginNames: []string{}}})
	if len(res.Headers) != 3 {
		t.Fatalf("headers = %+v", res.Headers)
	}
	top, other, low := res.Headers[0], res.Headers[1], res.Headers[2]
	if !top.Trusted || other.Trusted || other.Forged || low.Trusted || !low.Forged {
		t.Errorf("trust: top %+v / other %+v / low %+v", top, other, low)
	}
	if res.SPF.Result != Fail || res.DMARC.Result != Fail || len(res.DKIM) != 0 {
		t.Errorf("results read from untrusted fields: spf %s dmarc %s dkim %+v", res.SPF.Result, res.DMARC.Result, res.DKIM)
	}
	// Microsoft's fields carry no name: trusted by position when Microsoft
	// is among the receivers; below the boundary, one in that form is the
	// sender's forgery — unless it is an upstream Microsoft 365 tenant's
	// own record, right above that tenant's inbound Received field.
	ms := "Authentication-Results: spf=pass (sender IP is 192.0.2.25) smtp.mailfrom=example.org; dmarc=pass action=none header.from=example.org\r\n" +
		"Received: from mail.example.org (192.0.2.25) by CO1NAM11FT087.mail.protection.outlook.com (10.13.174.68) with Microsoft SMTP Server via Frontend Transport; Sun, 10 Sep 2023 11:21:43 +0000\r\n" +
		"Authentication-Results: spf=pass (sender IP is 203.0.113.1) smtp.mailfrom=example.org\r\n" +
		"Received: from x.example (203.0.113.1) by AM7EUR06FT021.mail.protection.outlook.com (10.13.174.69) with Microsoft SMTP Server via Frontend Transport; Sun, 10 Sep 2023 11:21:42 +0000\r\n" + unsigned
	res = check(t, resolve.Offline{}, ms, Input{AR: ARTrust{Above: 1, Patterns: []string{"", "mx.microsoft.com"}}})
	if !res.Headers[0].Trusted || res.Headers[1].Trusted || !res.Headers[1].Forged || res.SPF.IP != "192.0.2.25" || res.DMARC.Result != Pass {
		t.Errorf("Microsoft form: %+v spf %+v dmarc %+v", res.Headers, res.SPF, res.DMARC)
	}
	res = check(t, resolve.Offline{}, ms, Input{AR: ARTrust{Above: 1, Patterns: []string{"", "mx.microsoft.com"}, UpstreamEdges: []int{3}}})
	if res.Headers[1].Trusted || res.Headers[1].Forged {
		t.Errorf("upstream tenant's record: %+v", res.Headers[1])
	}
}

// A b= value has base64 spellings that decode to the same signature (the
// bits before "=" padding are ignored by the verifier): a reporter who
// re-spells a genuine signature must not get a new name for the message,
// or one message would count as many complaints.
func TestBHashOneNamePerSignature(t *testing.T) {
	sig := make([]byte, 64) // an Ed25519 signature: base64 ends in "=="
	for i := range sig {
		sig[i] = byte(i * 7)
	}
	b := base64.StdEncoding.EncodeToString(sig)
	if !strings.HasSuffix(b, "==") {
		t.Fatalf("want a value ending in ==: %s", b)
	}
	want := bHash(b)
	last := b[len(b)-3]
	idx := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", last)
	for k := 1; k < 16; k++ { // the low 4 bits of the last character before == are unused
		alt := b[:len(b)-3] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[idx^k]) + "=="
		d, err := base64.StdEncoding.DecodeString(alt)
		if err != nil || !bytes.Equal(d, sig) {
			t.Fatalf("test premise: %s does not decode to the same signature", alt)
		}
		if got := bHash(alt); got != want {
			t.Errorf("re-spelt b= %s has another name %s (want %s)", alt, got, want)
		}
	}
	sig[0] ^= 1
	if bHash(base64.StdEncoding.EncodeToString(sig)) == want {
		t.Error("another signature has the same name")
	}
	if bHash("not base64!") == bHash("") || bHash("") != "" {
		t.Error("an undecodable or empty b= is misnamed")
	}
}
