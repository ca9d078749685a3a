package label

import (
	"crypto/ed25519"
	"strings"
	"testing"
	"time"
)

// A campaign message of about 6 KB with its label, as a filter sees it.
func benchMessage(b *testing.B) ([]byte, *Label) {
	body := strings.Repeat("Our winter sale: 20% off every coat until Sunday. Shop now at https://shop.example/sale\r\n", 64)
	raw := []byte("From: Shop <news@shop.example>\r\nSubject: Winter sale\r\n\r\n" + body)
	l := &Label{ID: "lab1", Sender: "shop.example", Domain: "shop.example", Canon: "relaxed", BodyHash: BodyHash(Body(raw), "relaxed"),
		HeadHash: HeaderHash(raw), Issued: time.Now().Add(-time.Hour), Expires: time.Now().Add(time.Hour), StatusURL: "https://node.example/labels/v1/status"}
	l.Sign(nodeKey)
	return raw, l
}

// BenchmarkVerify is one label seen for the first time, checked in full:
// parse, Ed25519 signature, body hash, header hash, the binding to the
// DKIM result and the status list (1,000 revocations). The DKIM result is
// given ("pass"), as the analysis gives it: the DKIM verification itself
// (a DNS lookup and an RSA or Ed25519 check) is not in these figures.
func BenchmarkVerify(b *testing.B) { benchVerify(b, false) }

// BenchmarkVerifyCampaign is the same label again, as on every message of
// a campaign: the signature comes from the cache.
func BenchmarkVerifyCampaign(b *testing.B) { benchVerify(b, true) }

func benchVerify(b *testing.B, cached bool) {
	raw, l := benchMessage(b)
	var revoked []RevokedLabel
	for i := 0; i < 1000; i++ {
		revoked = append(revoked, RevokedLabel{ID: "r" + strings.Repeat("x", i%7) + string(rune('a'+i%26)), At: time.Now()})
	}
	st := &Status{Format: StatusFormat, IssuedAt: time.Now(), NextUpdate: time.Now().Add(time.Hour), Labels: revoked}
	st.index(nodeKey.Public().(ed25519.PublicKey))
	v := NewVerifier(nil, Issuer{Name: "node", Key: nodeKey.Public().(ed25519.PublicKey), Status: st})
	if !cached {
		v.good = nil
	}
	in := Input{Raw: raw, Values: []string{l.Value()}, FromDomain: "shop.example", DKIM: []DKIM{{Domain: "shop.example", Result: "pass"}}}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if r := v.Verify(in); r.Status != Valid {
			b.Fatal(r.Reason)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "labels/s")
}

// BenchmarkVerifyForged is the cost of a forged label: refused at the
// signature, before the body is hashed.
func BenchmarkVerifyForged(b *testing.B) {
	raw, l := benchMessage(b)
	forged := *l
	forged.Expires = forged.Expires.Add(time.Hour)
	v := NewVerifier(nil, Issuer{Name: "node", Key: nodeKey.Public().(ed25519.PublicKey)})
	in := Input{Raw: raw, Values: []string{forged.Value()}, FromDomain: "shop.example", DKIM: []DKIM{{Domain: "shop.example", Result: "pass"}}}
	for b.Loop() {
		if r := v.Verify(in); r.Status != Invalid {
			b.Fatal(r.Status)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "labels/s")
}
