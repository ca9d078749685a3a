package dnsname

import (
	"net/netip"
	"strings"
	"testing"
)

func TestOrgDomain(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"mail.example.com", "example.com"},
		{"Mail.Example.COM.", "example.com"},
		{"example.com", "example.com"},
		{"a.b.example.co.uk", "example.co.uk"},
		{"co.uk", ""},             // a public suffix has no organizational domain
		{"com", ""},               //
		{"localhost", ""},         // single label: a suffix under the default rule
		{"192.0.2.1", ""},         // not "2.1"
		{"[192.0.2.1]", ""},       // address literal
		{"2001:db8::1", ""},       //
		{"mx.example.com:25", ""}, // a port is not part of a name
		{"a..example.com", ""},
		{"", ""},
		{" ", ""},
		{"bad name.com", ""},
		{"bücher.de", "xn--bcher-kva.de"},
		{"www.XN--BCHER-KVA.de", "xn--bcher-kva.de"},
		{"host.example.internal", "example.internal"}, // default rule for unknown suffixes
		{"foo.blogspot.com", "foo.blogspot.com"},      // private suffixes count, as in DMARC
		{"10.1.2", ""},
		{"_dmarc.example.org", "example.org"},
		// Mail platforms whose customers each sign with a subdomain of
		// their own (platformSuffixes): each customer is an organisation.
		{"acmecorp.onmicrosoft.com", "acmecorp.onmicrosoft.com"},
		{"Mail.AcmeCorp.onmicrosoft.com.", "acmecorp.onmicrosoft.com"},
		{"onmicrosoft.com", ""},
		{"acmecorp.mail.onmicrosoft.com", "acmecorp.mail.onmicrosoft.com"},
		{"mail.onmicrosoft.com", ""},
		{"agency.onmicrosoft.us", "agency.onmicrosoft.us"},
		{"firm.partner.onmschina.cn", "firm.partner.onmschina.cn"},
		{"partner.onmschina.cn", ""},
		{"onmschina.cn", "onmschina.cn"},         // the platform's own name, not a customer's
		{"xonmicrosoft.com", "xonmicrosoft.com"}, // whole labels only
		{"microsoft.com", "microsoft.com"},
	} {
		if got := OrgDomain(c.in); got != c.want {
			t.Errorf("OrgDomain(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestSameOrgAndEqual(t *testing.T) {
	for _, c := range []struct {
		a, b        string
		same, equal bool
	}{
		{"news.example.com", "example.com", true, false},
		{"EXAMPLE.com.", "example.com", true, true},
		{"bücher.de", "mail.xn--bcher-kva.de", true, false},
		{"example.co.uk", "other.co.uk", false, false},
		{"co.uk", "co.uk", false, true}, // the same name, but no organization to share
		{"192.0.2.1", "198.51.100.1", false, false},
		// One Microsoft 365 tenant's signature does not align with
		// another's From (relaxed DMARC alignment is SameOrg); a tenant's
		// own subdomains still align with it.
		{"spamtenant.onmicrosoft.com", "acmecorp.onmicrosoft.com", false, false},
		{"acmecorp.onmicrosoft.com", "it.acmecorp.onmicrosoft.com", true, false},
		{"spamtenant.mail.onmicrosoft.com", "acmecorp.mail.onmicrosoft.com", false, false},
		// A tenant's routing and initial domains are two organisations
		// here, though one tenant's: the stricter reading.
		{"acmecorp.onmicrosoft.com", "acmecorp.mail.onmicrosoft.com", false, false},
		{"", "", false, false},
	} {
		if got := SameOrg(c.a, c.b); got != c.same {
			t.Errorf("SameOrg(%q, %q) = %v, want %v", c.a, c.b, got, c.same)
		}
		if got := Equal(c.a, c.b); got != c.equal {
			t.Errorf("Equal(%q, %q) = %v, want %v", c.a, c.b, got, c.equal)
		}
	}
}

func TestICANNSuffix(t *testing.T) {
	for _, c := range []struct {
		in   string
		want bool
	}{
		{"paypal.com", true}, {"example.co.uk", true}, {"file.txt", false}, {"r.hughes", true}, {"com", false},
		{"host.internal", false}, {"bücher.de", true}, {"1.2.3.4", false},
	} {
		if got := ICANNSuffix(c.in); got != c.want {
			t.Errorf("ICANNSuffix(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func FuzzOrgDomain(f *testing.F) {
	for _, s := range []string{"mail.example.com", "bücher.de", "[1.2.3.4]", "a..b", "co.uk", "xn--.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		o := OrgDomain(s)
		if o == "" {
			return
		}
		// The organizational domain is its own organizational domain, and
		// the name belongs to it.
		if OrgDomain(o) != o {
			t.Fatalf("OrgDomain(%q) = %q, but OrgDomain(%q) = %q", s, o, o, OrgDomain(o))
		}
		if !SameOrg(s, o) {
			t.Fatalf("SameOrg(%q, %q) = false", s, o)
		}
	})
}

func BenchmarkOrgDomain(b *testing.B) {
	for b.Loop() {
		OrgDomain("mail-pl1-f171.google.com")
	}
}

// An IP address is never a domain name, whichever way it is written that
// netip.ParseAddr accepts (Normalize asks it only about digits and dots).
func FuzzNormalizeRefusesAddresses(f *testing.F) {
	for _, s := range []string{"1.2.3.4", "192.0.2.1.", " 10.0.0.1 ", "::1", "fe80::1%eth0", "1.2.3", "01.2.3.4", "::ffff:1.2.3.4", "a.b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := strings.TrimSuffix(strings.TrimSpace(s), ".")
		if _, err := netip.ParseAddr(n); err != nil {
			return
		}
		if d, ok := Normalize(s); ok {
			t.Fatalf("Normalize(%q) = %q, an address", s, d)
		}
	})
}
