package mailauth

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/netip"
	"runtime"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/accord-antispam/accord/internal/resolve"
)

// Crafted attacks on authentication, from a review that attacked the
// verdict as a spammer would.

// A receiver that echoes the sender's text unquoted may end up with a
// result the sender wrote inside its own field. A DMARC result counts only
// when it names the From domain, and when the trusted results for it
// disagree, the one that did not pass is taken.
func TestTrustedDMARCNeedsTheFromDomainAndAgreement(t *testing.T) {
	from := strings.Replace(unsigned, "alice@example.org", "service@paypal.com", 1)
	for name, ar := range map[string]string{
		"no header.from":    "mx.example.net; spf=pass smtp.mailfrom=x; dmarc=pass; @spam.example; dmarc=fail header.from=paypal.com",
		"two for paypal":    "mx.example.net; spf=pass smtp.mailfrom=x; dmarc=pass header.from=paypal.com; @spam.example; dmarc=fail header.from=paypal.com",
		"other domain":      "mx.example.net; dmarc=pass header.from=spam.example; dmarc=fail header.from=paypal.com",
		"only the injected": "mx.example.net; spf=pass smtp.mailfrom=x; dmarc=pass; @spam.example",
	} {
		t.Run(name, func(t *testing.T) {
			msg := "Authentication-Results: " + ar + "\r\n" + from
			res := check(t, resolve.Offline{}, msg, Input{AR: ARTrust{Above: 1, Receivers: []string{"mx.example.net"}}})
			if !res.Headers[0].Trusted {
				t.Fatalf("headers %+v", res.Headers)
			}
			if res.DMARC.Result == Pass {
				t.Errorf("dmarc pass from the sender's text: %+v", res.DMARC)
			}
		})
	}
}

// Parsing an Authentication-Results field costs memory (and time) in
// proportion to its length: " =" repeated used to rebuild the growing word
// at each step. Counted in bytes allocated, which does not depend on the
// machine's speed (BenchmarkParseAuthResults shows the time).
func TestParseAuthResultsAllocatesLinearly(t *testing.T) {
	for _, v := range []string{
		"x; spf=pass a" + strings.Repeat(" =", 20000),
		"x; spf=pass a" + strings.Repeat("=", 40000),
		"x; spf=pass" + strings.Repeat(" (a", 20000),
		"x;" + strings.Repeat(" a=b;", 8000),
		"x; spf=pass" + strings.Repeat(` "(" (")`, 5000),
	} {
		if n := allocated(func() { ParseAuthResults(v) }); n > 200*uint64(len(v))+1<<16 {
			t.Errorf("%.20q… (%d bytes): %d bytes allocated", v, len(v), n)
		}
	}
}

func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// BenchmarkParseAuthResults: time per field of growing size; ns/op grows
// in proportion to n.
func BenchmarkParseAuthResults(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		v := "x; spf=pass a" + strings.Repeat(" =", n)
		b.Run(itoa(n), func(b *testing.B) {
			b.SetBytes(int64(len(v)))
			for b.Loop() {
				ParseAuthResults(v)
			}
		})
	}
}

// A signature hidden from one header reader and shown to the other: the
// spammer's valid signature (d=spam.example) behind a line that starts
// with a bare CR (the DKIM verifier reads a field there, the header parser
// a continuation), or a bogus d=paypal.com signature behind a NUL. The
// verification results must never be credited to paypal.com. Two guards,
// each enough here: a header holding a bare CR or NUL has every signature
// permerror, and a result is credited only to a signature of the domain
// the verifier read in that place.
func TestDKIMHiddenSignatureNotCreditedToAnother(t *testing.T) {
	k := edKey(t)
	z := &resolve.Zone{}
	z.AddTXT("ed._domainkey.spam.example", k.txt)
	z.AddTXT("_dmarc.paypal.com", "v=DMARC1; p=reject")
	z.AddTXT("paypal.com", "v=spf1 -all")
	orig := "From: PayPal <service@paypal.com>\r\nTo: bob@example.net\r\nSubject: Account limited\r\nDate: Tue, 3 Nov 2026 10:00:00 +0100\r\nMessage-ID: <p1@spam.example>\r\n\r\nLog in at http://paypa1-secure.example/login\r\n"
	var out bytes.Buffer
	if err := dkim.Sign(&out, strings.NewReader(orig), &dkim.SignOptions{Domain: "spam.example", Selector: "ed", Signer: k.signer,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
		HeaderKeys: []string{"From", "To", "Subject", "Date", "Message-ID"}}); err != nil {
		t.Fatal(err)
	}
	signed := out.String()
	i := strings.Index(signed, "From: PayPal")
	bogus := "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=paypal.com; s=pp; h=from:subject; bh=AAAA; b=AAAA\r\n"
	recv := "Received: from mail.spam.example (mail.spam.example [203.0.113.7]) by mx.example.net (Postfix) with ESMTPS id 2; Tue, 3 Nov 2026 10:00:02 +0100\r\n"
	for name, msg := range map[string]string{
		"bare CR": recv + "X-Junk: a\r\n\r" + signed[:i] + bogus + signed[i:],
		"NUL":     recv + "\x00" + bogus + signed,
	} {
		t.Run(name, func(t *testing.T) {
			res := check(t, z, msg, Input{IP: netip.MustParseAddr("203.0.113.7"), MailFrom: "b@spam.example", HELO: "mail.spam.example"})
			for _, d := range res.DKIM {
				if d.Domain == "paypal.com" && d.Result == Pass {
					t.Errorf("paypal.com credited with a pass: %+v", res.DKIM)
				}
			}
			if res.DMARC.Result == Pass {
				t.Errorf("DMARC pass for paypal.com: %+v", res.DMARC)
			}
		})
	}
	// The same message without the hiding line verifies as it should:
	// spam.example passes, paypal.com's bogus signature does not.
	res := check(t, z, recv+signed[:i]+bogus+signed[i:], Input{IP: netip.MustParseAddr("203.0.113.7"), MailFrom: "b@spam.example", HELO: "mail.spam.example"})
	got := map[string]Result{}
	for _, d := range res.DKIM {
		got[d.Domain] = d.Result
	}
	if got["spam.example"] != Pass || got["paypal.com"] == Pass || res.DMARC.Result != Fail {
		t.Errorf("plain message: dkim %v dmarc %s", got, res.DMARC.Result)
	}
}

// A google.com ARC set from another message, replayed below a set the
// spammer seals with its own key under our receiver's authserv-id: the
// spammer's set is not ours (its key is not the boundary's), so the
// forwarder is spam.example, whose results are not used. A set our own
// receiver seals (example.net's key, its authserv-id) still is ours, and
// the google.com set below it is the forwarder's.
func TestARCReplayedSetBelowASpammersSeal(t *testing.T) {
	gkey, skey, okey := edKey(t), edKey(t), edKey(t)
	z := &resolve.Zone{}
	z.AddTXT("arc._domainkey.google.com", gkey.txt)
	z.AddTXT("arc._domainkey.spam.example", skey.txt)
	z.AddTXT("arc._domainkey.example.net", okey.txt)
	z.AddTXT("paypal.com", "v=spf1 ip4:66.211.170.0/24 -all")
	z.AddTXT("_dmarc.paypal.com", "v=DMARC1; p=reject")
	a := strings.Replace(unsigned, "alice@example.org", "service@paypal.com", 1)
	sealedA := seal(t, a, 1, "google.com", "arc", gkey,
		"mx.google.com; spf=pass smtp.mailfrom=paypal.com; dkim=pass header.d=paypal.com; dmarc=pass header.from=paypal.com", "none")
	i1 := strings.Join(strings.SplitAfter(sealedA, "\r\n")[:3], "")
	b := strings.Replace(a, "The figures are attached.", "Your account is limited: log in at http://paypa1.example/", 1)
	b = strings.Replace(b, "Message-ID: <q1@example.org>", "Message-ID: <q2@example.org>", 1)
	ownAAR := "mx.example.net; spf=pass smtp.mailfrom=paypal.com; dkim=pass header.d=paypal.com; dmarc=pass header.from=paypal.com"
	recv := "Received: from mail.spam.example (mail.spam.example [203.0.113.7]) by mx.example.net (Postfix) with ESMTPS id 2; Tue, 3 Nov 2026 10:00:02 +0100\r\n"
	in := Input{IP: netip.MustParseAddr("203.0.113.7"), MailFrom: "bounce@spam.example", HELO: "mail.spam.example",
		AR: ARTrust{Above: 0, Receivers: []string{"mx.example.net"}, Sealers: []string{"google.com"}}}

	res := check(t, z, recv+seal(t, i1+b, 2, "spam.example", "arc", skey, ownAAR, "pass"), in)
	if res.ARC.ForwardedBy != "spam.example" || res.ARC.UsedFrom != "" || res.ARC.Sets[0].Own {
		t.Errorf("ARC %+v", res.ARC)
	}
	if res.DMARC.Result == Pass || res.SPF.Source == SourceARC {
		t.Errorf("replayed results used: spf %+v dmarc %+v", res.SPF, res.DMARC)
	}
	// Our receiver's own seal over a genuine google.com set: ours, and the
	// forwarder's chain verifies (the body is google's, unchanged).
	res = check(t, z, recv+seal(t, sealedA, 2, "example.net", "arc", okey, ownAAR, "pass"), in)
	if !res.ARC.Sets[0].Own || res.ARC.ForwardedBy != "google.com" || res.ARC.Result != Pass || res.ARC.UsedFrom != "google.com" {
		t.Errorf("own seal: ARC %+v", res.ARC)
	}
}

// lSigned signs msg (CRLF) for d= with s=ed and l= covering its whole
// body as it is now, so that text appended later is left unsigned.
func lSigned(t *testing.T, msg, d string, k keyPair) string {
	t.Helper()
	fields, body := rawHeader([]byte(msg))
	l := len(canonBody(body, "relaxed"))
	bh, _ := bodyHash(body, "relaxed", l)
	sig := "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=" + d + "; s=ed; l=" + itoa(l) + "; h=from:to:subject:date:message-id; bh=" + bh + "; b="
	var data strings.Builder
	for _, f := range pickHeaders(fields, []string{"from", "to", "subject", "date", "message-id"}) {
		data.WriteString(relaxedHeader(f.text))
	}
	data.WriteString(strings.TrimSuffix(relaxedHeader(sig+"\r\n"), "\r\n"))
	sum := sha256.Sum256([]byte(data.String()))
	b, err := k.signer.Sign(rand.Reader, sum[:], crypto.Hash(0))
	if err != nil {
		t.Fatal(err)
	}
	return sig + base64.StdEncoding.EncodeToString(b) + "\r\n" + msg
}

// paypalReceipt is a receipt PayPal signed with l= (its key, a p=reject
// DMARC record and an SPF record that passes nobody in the zone).
func paypalReceipt(t *testing.T) (*resolve.Zone, string) {
	k := edKey(t)
	z := &resolve.Zone{}
	z.AddTXT("ed._domainkey.paypal.com", k.txt)
	z.AddTXT("_dmarc.paypal.com", "v=DMARC1; p=reject")
	z.AddTXT("paypal.com", "v=spf1 -all")
	orig := "From: PayPal <service@paypal.com>\r\nTo: bob@example.net\r\nSubject: Your receipt\r\nDate: Tue, 3 Nov 2026 10:00:00 +0100\r\nMessage-ID: <r1@paypal.com>\r\nContent-Type: text/plain\r\n\r\nThanks for your payment.\r\n"
	return z, lSigned(t, orig, "paypal.com", k)
}

// A PayPal-signed receipt with l=, and a phishing paragraph appended: the
// signature still passes over what it signs, but the appended text must not
// ride on it — DMARC fails (SPF does not pass either), and the tail and its
// link are reported. White space appended changes nothing.
func TestDKIMLengthTailDoesNotVouch(t *testing.T) {
	z, signed := paypalReceipt(t)
	in := Input{IP: netip.MustParseAddr("203.0.113.7"), MailFrom: "service@paypal.com", HELO: "mail.spam.example"}

	res := check(t, z, signed+"\r\nYour account is limited. Log in within 24 hours: http://paypa1-secure.example/login\r\n", in)
	d := res.DKIM[0]
	if d.Result != Pass || !d.UnsignedText || len(d.UnsignedURLs) != 1 || d.UnsignedURLs[0] != "http://paypa1-secure.example/login" {
		t.Errorf("tail: %+v", d)
	}
	if res.DMARC.Result != Fail || res.DMARC.DKIMAligned {
		t.Errorf("dmarc %+v", res.DMARC)
	}
	res = check(t, z, signed+"\r\n\r\n  \r\n", in)
	if d := res.DKIM[0]; d.Result != Pass || d.UnsignedText || res.DMARC.Result != Pass {
		t.Errorf("white space appended: dkim %+v dmarc %s", d, res.DMARC.Result)
	}
}

// A firm's real l= signature hidden on an indented first line (a
// continuation with no field above it: the header parser drops it, the
// verifier and the raw reader read it), and a made-up signature with the
// same d= and an l= beyond the body below it. Were the verifier's results
// given to the parsed signatures by place, the made-up one would take the
// real one's pass and its l= would hide the appended phish: the firm's
// domain would pass, aligned, with no unsigned text (the eleventh
// federation review's finding, reproduced end to end on a node).
func TestSignatureHiddenFromTheHeaderParser(t *testing.T) {
	z, signed := paypalReceipt(t)
	tail := "\r\nYour account is limited. Log in within 24 hours: http://paypa1-secure.example/login\r\n"
	in := Input{IP: netip.MustParseAddr("203.0.113.7"), MailFrom: "bounce@spam.example", HELO: "mail.spam.example"}

	// The plain l= abuse: a pass that says its tail is unsigned text.
	res := check(t, z, signed+tail, in)
	if d := res.DKIM[0]; d.Result != Pass || !d.UnsignedText || res.DMARC.Result == Pass {
		t.Fatalf("plain l= abuse: dkim %+v, dmarc %s", d, res.DMARC.Result)
	}
	cut := strings.Index(signed, "\r\nFrom: ") + 2
	fake := "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=paypal.com; s=ed; l=99999999; h=from; bh=AAAA; b=AAAA\r\n"
	hidden := " " + signed[:cut] + fake + signed[cut:] + tail
	res = check(t, z, hidden, in)
	for _, d := range res.DKIM {
		if d.Result == Pass {
			t.Errorf("a signature passes in a header that hides one from its parser: %+v", d)
		}
	}
	if res.DMARC.Result == Pass {
		t.Errorf("DMARC passes on a hidden signature: %+v", res.DMARC)
	}
	// Two signatures the parsers read alike are still verified each.
	two := signed[:cut] + fake + signed[cut:]
	res = check(t, z, two, in)
	if len(res.DKIM) != 2 || res.DKIM[0].Result != Pass || res.DKIM[1].Result == Pass {
		t.Errorf("a real signature beside a made-up one: %+v", res.DKIM)
	}
}
