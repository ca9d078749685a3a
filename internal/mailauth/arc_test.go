package mailauth

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/accord-antispam/accord/internal/resolve"
)

// seal adds an ARC set (RFC 8617 section 5.1) to msg, as a forwarder
// would: its Authentication-Results, a message signature and a seal over
// the chain, with ed25519-sha256.
func seal(t *testing.T, msg string, i int, d, s string, k keyPair, aar, cv string) string {
	t.Helper()
	msg = string(toCRLF([]byte(msg)))
	sign := func(data string) string {
		sum := sha256.Sum256([]byte(data))
		b, err := k.signer.Sign(rand.Reader, sum[:], crypto.Hash(0))
		if err != nil {
			t.Fatal(err)
		}
		return base64.StdEncoding.EncodeToString(b)
	}
	fields, body := rawHeader([]byte(msg))
	n := func(v int) string { return string(rune('0' + v)) }
	aarField := "ARC-Authentication-Results: i=" + n(i) + "; " + aar + "\r\n"
	bh, _ := bodyHash(body, "relaxed", -1)
	ams := "ARC-Message-Signature: i=" + n(i) + "; a=ed25519-sha256; c=relaxed/relaxed; d=" + d + "; s=" + s +
		"; h=from:to:subject:date:message-id; bh=" + bh + "; b="
	var data strings.Builder
	for _, f := range pickHeaders(fields, []string{"from", "to", "subject", "date", "message-id"}) {
		data.WriteString(relaxedHeader(f.text))
	}
	data.WriteString(strings.TrimSuffix(relaxedHeader(ams+"\r\n"), "\r\n"))
	ams += sign(data.String()) + "\r\n"
	// The seal covers every earlier set, then this one.
	all := append(fields, rawField{name: "arc-authentication-results", text: aarField}, rawField{name: "arc-message-signature", text: ams})
	sets, _ := readARCForSeal(all)
	as := "ARC-Seal: i=" + n(i) + "; a=ed25519-sha256; cv=" + cv + "; d=" + d + "; s=" + s + "; t=1793000000; b="
	data.Reset()
	for j := 1; j <= i; j++ {
		data.WriteString(relaxedHeader(sets[j][0]))
		data.WriteString(relaxedHeader(sets[j][1]))
		if j < i {
			data.WriteString(relaxedHeader(sets[j][2]))
		}
	}
	data.WriteString(strings.TrimSuffix(relaxedHeader(as+"\r\n"), "\r\n"))
	as += sign(data.String()) + "\r\n"
	return as + ams + aarField + msg
}

// readARCForSeal indexes the ARC fields by instance: AAR, AMS, AS.
func readARCForSeal(fields []rawField) (map[int][3]string, error) {
	out := map[int][3]string{}
	for _, f := range fields {
		slot := map[string]int{"arc-authentication-results": 0, "arc-message-signature": 1, "arc-seal": 2}
		k, ok := slot[f.name]
		if !ok {
			continue
		}
		v := strings.SplitN(f.text, ":", 2)[1]
		i := int(strings.TrimSpace(strings.SplitN(strings.SplitN(v, "i=", 2)[1], ";", 2)[0])[0] - '0')
		s := out[i]
		s[k] = f.text
		out[i] = s
	}
	return out, nil
}

// A list forwards a signed message, changing its subject: the author's
// DKIM signature breaks, SPF at our receiver checks the list's address.
// The list sealed what it saw; with its seal verified through fixture DNS
// and the sealer trusted, its results are used and the forwarding named.
func TestARCForwardedThroughTrustedSealer(t *testing.T) {
	author, list := edKey(t), edKey(t)
	z := &resolve.Zone{}
	z.AddTXT("ed._domainkey.sender.example", author.txt)
	z.AddTXT("arc._domainkey.forwarder.example", list.txt)
	z.AddTXT("sender.example", "v=spf1 ip4:192.0.2.0/24 -all")
	z.AddTXT("_dmarc.sender.example", "v=DMARC1; p=reject")
	orig := strings.Replace(unsigned, "alice@example.org", "alice@sender.example", 1)
	signed := sign(t, orig, "sender.example", "ed", author)
	relayed := "Received: from out.sender.example (out.sender.example [192.0.2.10]) by lists.forwarder.example (Postfix) with ESMTPS id 1; Tue, 3 Nov 2026 10:00:01 +0100\r\n" +
		strings.Replace(signed, "Subject: Quarterly figures", "Subject: [team] Quarterly figures", 1)
	sealed := seal(t, relayed, 1, "forwarder.example", "arc", list,
		"lists.forwarder.example; spf=pass smtp.mailfrom=alice@sender.example; dkim=pass header.d=sender.example; dmarc=pass header.from=sender.example", "none")
	msg := "Received: from lists.forwarder.example (lists.forwarder.example [198.51.100.77]) by mx.example.net (Postfix) with ESMTPS id 2; Tue, 3 Nov 2026 10:00:02 +0100\r\n" + sealed
	in := Input{IP: netip.MustParseAddr("198.51.100.77"), MailFrom: "alice@sender.example",
		AR: ARTrust{Receivers: []string{"mx.example.net"}, Sealers: []string{"forwarder.example"}}}

	res := check(t, z, msg, in)
	a := res.ARC
	if a.Result != Pass || !a.Verified || a.ForwardedBy != "forwarder.example" || a.UsedFrom != "forwarder.example" || len(a.Sets) != 1 {
		t.Fatalf("ARC = %+v", a)
	}
	if res.SPF.Result != Pass || res.SPF.Source != SourceARC || res.DMARC.Result != Pass || res.DMARC.Source != SourceARC {
		t.Errorf("results not taken from the trusted sealer: spf %+v dmarc %+v", res.SPF, res.DMARC)
	}
	if len(res.DKIM) != 1 || res.DKIM[0].Result != Pass || res.DKIM[0].Source != SourceARC {
		t.Errorf("DKIM = %+v", res.DKIM)
	}

	// The same chain from a sealer nobody trusts: named, verified, unused.
	in.AR.Sealers = nil
	res = check(t, z, msg, in)
	if res.ARC.Result != Pass || res.ARC.UsedFrom != "" || res.ARC.ForwardedBy != "forwarder.example" || res.SPF.Result != Fail || res.DMARC.Result != Fail {
		t.Errorf("untrusted sealer: ARC %+v spf %s dmarc %s", res.ARC, res.SPF.Result, res.DMARC.Result)
	}

	// Altered after the seal: the message signature breaks the chain.
	in.AR.Sealers = []string{"forwarder.example"}
	res = check(t, z, strings.Replace(msg, "The figures are attached.", "Wire the money today.", 1), in)
	if res.ARC.Result != Fail || res.ARC.UsedFrom != "" || res.DMARC.Result != Fail {
		t.Errorf("tampered body: ARC %+v dmarc %s", res.ARC, res.DMARC.Result)
	}
	// A seal by another key: the seal does not verify.
	z2 := &resolve.Zone{}
	z2.AddTXT("ed._domainkey.sender.example", author.txt)
	z2.AddTXT("arc._domainkey.forwarder.example", edKey(t).txt)
	if res := check(t, z2, msg, in); res.ARC.Result != Fail {
		t.Errorf("wrong key: ARC %+v", res.ARC)
	}
	// Offline: the chain is read and the forwarder named, nothing verified.
	res = check(t, resolve.Offline{}, msg, in)
	if res.ARC.Result != None || res.ARC.Verified || res.ARC.ForwardedBy != "forwarder.example" || res.ARC.UsedFrom != "" {
		t.Errorf("offline: %+v", res.ARC)
	}
}

// A DKIM signature with a body length (l=) whose signed part is intact
// passes, saying how much of the body it leaves unsigned; one whose signed
// part changed fails.
func TestDKIMBodyLength(t *testing.T) {
	k := edKey(t)
	z := &resolve.Zone{}
	z.AddTXT("ed._domainkey.example.org", k.txt)
	msg := string(toCRLF([]byte(unsigned)))
	fields, body := rawHeader([]byte(msg))
	l := len(canonBody(body, "relaxed"))
	bh, _ := bodyHash(body, "relaxed", l)
	sig := "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.org; s=ed; l=" + itoa(l) + "; h=from:to:subject:date:message-id; bh=" + bh + "; b="
	var data strings.Builder
	for _, f := range pickHeaders(fields, []string{"from", "to", "subject", "date", "message-id"}) {
		data.WriteString(relaxedHeader(f.text))
	}
	data.WriteString(strings.TrimSuffix(relaxedHeader(sig+"\r\n"), "\r\n"))
	sum := sha256.Sum256([]byte(data.String()))
	b, _ := k.signer.Sign(rand.Reader, sum[:], crypto.Hash(0))
	signed := sig + base64.StdEncoding.EncodeToString(b) + "\r\n" + msg
	tail := signed + "-- \r\nClick https://evil.example/login to keep your account.\r\n"

	res := check(t, z, tail, Input{})
	if len(res.DKIM) != 1 || res.DKIM[0].Result != Pass || res.DKIM[0].UnsignedBytes == 0 {
		t.Fatalf("intact l= signature with an appended tail: %+v", res.DKIM)
	}
	if res := check(t, z, signed, Input{}); res.DKIM[0].Result != Pass || res.DKIM[0].UnsignedBytes != 0 {
		t.Errorf("intact l= signature, nothing appended: %+v", res.DKIM)
	}
	if res := check(t, z, strings.Replace(tail, "figures", "invoices", 1), Input{}); res.DKIM[0].Result != Fail {
		t.Errorf("signed part altered: %+v", res.DKIM)
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// Real seals: the modern samples (read in place, ACCORD_MODERN_SAMPLES)
// carry ARC chains sealed by Microsoft and Google. With their published
// keys as fixture DNS, every seal they made must verify — the truth for the
// canonicalization and the seal rules — except where the samples' collector
// replaced the recipient ("phishing@pot") inside the sealed fields, which
// no signature survives.
func TestCorpusModernARCSeals(t *testing.T) {
	dir := os.Getenv("ACCORD_MODERN_SAMPLES")
	if dir == "" {
		t.Skip("ACCORD_MODERN_SAMPLES not set")
	}
	z := &resolve.Zone{}
	z.AddTXT("arcselector9901._domainkey.microsoft.com", "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAohCECx8ACVIj42taMc8G2ljiDmsboUW4mgasOg3/2Ay1D37DwK0CE1aok6x0x6dQ4FC/NGdeksPjT/ZLYH+zwwUvElJwd8adtZK4E7AT9Rzr6WPtTiFHi87em6n12HTvp8plpGHXnm8vdFrTxcCUguwUBzbe6MB12Dc3vSURcOUqfa6Dlj/6cNehl+PMonqlLxOl2KmpTJ/Vy9jhdFOu50xEhXIT5ocOa4tX12hfoMpZfBW6iU5QIyvnEFkJuF8Ibs7Hhr7Ec1GZc6tgOd5uNTAnnvh+xiYs8e722H5iDecMsBzj+I9U+CBY1ACwY9hTC1UDNu3xS+WKQNgvnifdIQIDAQAB")
	z.AddTXT("arc-20160816._domainkey.google.com", "k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA1Lztpxs7yUxQEsbDFhjMc9kZVZu5P/COYEUIX4B39IL4SXAbv4viIlT9E6F6iZmTh1go7+9WQLywwgwjXMJx/Dz0RgMoPeyp5NRy4l320DPYibNqVMWa5iQ2WiImQC0en1O9uhLLvzaSZJ03fvGmCo9jMo0GwKzLNe14xMgn/px2L5N/3IKlKX4bqUAJTUt8L993ZlWzvgMnSFSt8B+euSKSrtAiopdy4r1yO4eN5goBASrGW0eLQc1lYouNvCrcTQpos4/GEAqiGzpqueJLmBfOO4clNvVvpPkvQs2BHw9I9LmIjaMxTNGxkGBRaP3utDiKXXqu1K+LRzl0HCNSdQIDAQAB")
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.eml"))
	var intact, verified, altered int
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		fields, _ := rawHeader(toCRLF(raw))
		sets, problem := readARC(fields)
		if problem != "" {
			continue
		}
		ordered := append([]*arcSet(nil), sets...)
		sort.Slice(ordered, func(a, b int) bool { return ordered[a].i < ordered[b].i })
		for n, s := range ordered {
			k := s.tags["s"] + "._domainkey." + s.tags["d"]
			if k != "arcselector9901._domainkey.microsoft.com" && k != "arc-20160816._domainkey.google.com" {
				continue
			}
			touched := false
			for _, p := range ordered[:n+1] {
				touched = touched || strings.Contains(p.aar.text+p.ams.text+p.as.text, "@pot")
			}
			if touched {
				altered++
				continue
			}
			intact++
			if err := verifySeal(context.Background(), z, ordered, n); err != nil {
				t.Errorf("%s: %v", filepath.Base(f), err)
			} else {
				verified++
			}
		}
	}
	t.Logf("%d real seals over intact fields, %d verify; %d over fields the collector altered", intact, verified, altered)
	if intact < 20 {
		t.Errorf("only %d intact real seals found", intact)
	}
}

// FuzzARC feeds arbitrary header blocks to the raw-field splitter, the ARC
// reader and the offline chain check. Besides not panicking: offline a
// chain is never "pass" nor verified; a set is the boundary's own only when
// sealed with the boundary's key (here example.net's, its receiver
// mx.example.net) and only above every forwarder's set; the forwarder is
// the newest set that is not own.
func FuzzARC(f *testing.F) {
	f.Add([]byte("ARC-Seal: i=1; a=rsa-sha256; cv=none; d=example.org; s=s; b=abc\r\nARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org; s=s; h=from; bh=x; b=y\r\nARC-Authentication-Results: i=1; mx.example.org; spf=pass\r\nFrom: a@example.org\r\n\r\nbody\r\n"))
	f.Add([]byte("ARC-Seal: i=0\r\n\r\n"))
	f.Add([]byte("ARC-Seal: i=2; b=\r\n\tmore; cv=pass\r\nARC-Seal: i=2\r\n\r\n"))
	f.Add([]byte("DKIM-Signature: v=1; l=5; b=; bh=\r\n"))
	f.Add([]byte("ARC-Seal: i=2; a=ed25519-sha256; cv=pass; d=spam.example; s=arc; b=x\r\nARC-Message-Signature: i=2; a=ed25519-sha256; d=spam.example; s=arc; h=from; bh=x; b=y\r\nARC-Authentication-Results: i=2; mx.example.net; dmarc=pass header.from=paypal.com\r\nARC-Seal: i=1; a=ed25519-sha256; cv=none; d=google.com; s=arc; b=x\r\nARC-Message-Signature: i=1; a=ed25519-sha256; d=google.com; s=arc; h=from; bh=x; b=y\r\nARC-Authentication-Results: i=1; mx.google.com; dmarc=pass header.from=paypal.com\r\nFrom: service@paypal.com\r\n\r\nx\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fields, body := rawHeader(toCRLF(b))
		for _, fl := range fields {
			withoutB(fl.text)
			relaxedHeader(fl.text)
		}
		canonBody(body, "relaxed")
		canonBody(body, "simple")
		checkARC(context.Background(), resolve.Offline{}, fields, body, ARTrust{}, true)
		a, _ := checkARC(context.Background(), resolve.Offline{}, fields, body, ARTrust{Receivers: []string{"mx.example.net"}}, true)
		if a.Result == Pass || a.Verified {
			t.Fatalf("offline chain %+v", a)
		}
		forwarder := false
		for _, set := range a.Sets {
			if set.Own && (forwarder || set.Sealer != "example.net" && set.Sealer != "mx.example.net" && set.Sealer != "net") {
				t.Fatalf("set %+v taken as the boundary's own", set)
			}
			if !set.Own && !forwarder {
				forwarder = true
				if a.ForwardedBy != set.Sealer {
					t.Fatalf("forwarded by %q, newest set not own %+v", a.ForwardedBy, set)
				}
			}
		}
	})
}
