package resolve

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sampleZone = `
; SPF and DMARC for a test domain
example.org.   TXT "v=spf1 ip4:192.0.2.0/24 " "-all"
_dmarc.example.org TXT "v=DMARC1; p=reject"
example.org    MX 20 mx2.example.org.
example.org    MX 10 mx1.example.org
mx1.example.org A 192.0.2.10
mx1.example.org AAAA 2001:db8::10
192.0.2.10     PTR mx1.example.org.
11.2.0.192.in-addr.arpa PTR mx2.example.org
broken.example SERVFAIL
198.51.100.7   SERVFAIL
`

func TestParseZoneAnswers(t *testing.T) {
	z, err := ParseZone(strings.NewReader(sampleZone))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	txt, err := z.LookupTXT(ctx, "EXAMPLE.org")
	if err != nil || len(txt) != 1 || txt[0] != "v=spf1 ip4:192.0.2.0/24 -all" {
		t.Fatalf("TXT = %q, %v", txt, err)
	}
	mx, err := z.LookupMX(ctx, "example.org.")
	if err != nil || len(mx) != 2 || mx[0].Host != "mx1.example.org." || mx[1].Pref != 20 {
		t.Fatalf("MX = %v, %v", mx, err)
	}
	ips, err := z.LookupIPAddr(ctx, "mx1.example.org")
	if err != nil || len(ips) != 2 {
		t.Fatalf("IP = %v, %v", ips, err)
	}
	names, err := z.LookupAddr(ctx, "192.0.2.11")
	if err != nil || names[0] != "mx2.example.org." {
		t.Fatalf("PTR = %v, %v", names, err)
	}
	var de *net.DNSError
	if _, err := z.LookupTXT(ctx, "nothing.example"); !errors.As(err, &de) || !de.IsNotFound {
		t.Fatalf("missing name: want IsNotFound, got %v", err)
	}
	if _, err := z.LookupTXT(ctx, "broken.example"); !errors.As(err, &de) || !de.IsTemporary {
		t.Fatalf("SERVFAIL name: want IsTemporary, got %v", err)
	}
	if _, err := z.LookupAddr(ctx, "198.51.100.7"); !errors.As(err, &de) || !de.IsTemporary {
		t.Fatalf("SERVFAIL reverse: want IsTemporary, got %v", err)
	}
}

func TestParseZoneErrors(t *testing.T) {
	for _, bad := range []string{
		"example.org TXT \"unterminated",
		"example.org MX ten mx.example.org",
		"example.org A 2001:db8::1",
		"example.org AAAA 192.0.2.1",
		"example.org BOGUS x",
		"example.org",
		"not-an-ip PTR host.example",
	} {
		if _, err := ParseZone(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseZone(%q): want an error", bad)
		} else if !strings.Contains(err.Error(), "line 1") {
			t.Errorf("ParseZone(%q): error %q does not name the line", bad, err)
		}
	}
}

func TestOfflineNeverAnswers(t *testing.T) {
	var r Resolver = Offline{}
	if !IsOffline(r) || IsOffline(Live{}) || IsOffline(&Zone{}) {
		t.Fatal("IsOffline misclassifies resolvers")
	}
	if _, err := r.LookupTXT(context.Background(), "example.org"); err == nil {
		t.Fatal("offline lookup succeeded")
	}
}

func TestReverseNameRoundTrip(t *testing.T) {
	for _, s := range []string{"192.0.2.1", "2001:db8::1"} {

		ip := mustAddr(t, s)
		got, ok := parseReverseName(reverseName(ip))
		if !ok || got != ip {
			t.Errorf("%s: round trip gave %v %v", s, got, ok)
		}

	}
}

func FuzzParseZone(f *testing.F) {
	f.Add(sampleZone)
	seeds, _ := filepath.Glob("testdata/*.zone")
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err == nil {
			f.Add(string(b))
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		z, err := ParseZone(strings.NewReader(s))
		if err != nil {
			return
		}
		// Whatever parsed must answer without panicking.
		ctx := context.Background()
		for n := range z.txt {
			if _, err := z.LookupTXT(ctx, n); err != nil && len(z.txt[n]) > 0 && !z.fail[n] {
				t.Fatalf("stored TXT for %q not answered: %v", n, err)
			}
		}
	})
}

func mustAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestDocumentedZoneExample: the example in docs/verdict.md parses and
// answers as documented.
func TestDocumentedZoneExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/verdict.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(doc)
	i := strings.Index(s, "### Fixture zone files")
	if i < 0 {
		t.Fatal("docs/verdict.md has no fixture zone section")
	}
	s = s[i:]
	a := strings.Index(s, "```\n")
	b := strings.Index(s[a+4:], "```")
	if a < 0 || b < 0 {
		t.Fatal("no example block")
	}
	z, err := ParseZone(strings.NewReader(s[a+4 : a+4+b]))
	if err != nil {
		t.Fatalf("the documented example does not parse: %v", err)
	}
	ctx := context.Background()
	if txt, err := z.LookupTXT(ctx, "_dmarc.shop.example."); err != nil || len(txt) != 1 || !strings.HasPrefix(txt[0], "v=DMARC1") {
		t.Errorf("TXT: %v %v", txt, err)
	}
	if mx, err := z.LookupMX(ctx, "shop.example"); err != nil || len(mx) != 1 || mx[0].Pref != 10 {
		t.Errorf("MX: %v %v", mx, err)
	}
	if _, err := z.LookupTXT(ctx, "broken.example"); err == nil {
		t.Error("SERVFAIL answered")
	}
}
