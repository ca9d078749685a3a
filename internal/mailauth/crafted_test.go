package mailauth

import (
	"runtime"
	"strings"
	"testing"

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
	runtime.GC()
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
