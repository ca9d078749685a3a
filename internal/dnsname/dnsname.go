// Package dnsname normalises domain names and finds their organizational
// domain: the registrable part of a name (RFC 7489 section 3.2, the public
// suffix plus one label, with the Public Suffix List's default rule "*" for
// suffixes the list does not know).
//
// It is the one place that answers "do these two names belong to the same
// organisation?" for DMARC alignment, the trust boundary, identity checks
// and link domains. Before it, four copies disagreed on public suffixes
// ("co.uk" was its own organization in one and none in another), on IP
// literals ("192.0.2.1" had the organizational domain "2.1"), on trailing
// dots and on internationalised names.
package dnsname

import (
	"net/netip"
	"strings"

	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// maxName is the longest name in presentation form (RFC 1035 section 2.3.4:
// 255 octets on the wire, 253 characters written).
const maxName = 253

// Normalize returns name in the form used for comparison: lower case,
// internationalised labels as A-labels ("xn--…"), without the root's
// trailing dot or the brackets of an address literal. ok is false for what
// is not a domain name: empty, an IP address, an empty label ("a..b"), a
// label over 63 characters, characters outside letters, digits, "-" and
// "_", or a Unicode name IDNA rejects.
func Normalize(name string) (string, bool) {
	n := strings.TrimSpace(name)
	n = strings.TrimSuffix(n, ".")
	if n == "" || len(n) > 4*maxName {
		return "", false
	}
	if strings.HasPrefix(n, "[") || strings.Contains(n, ":") {
		return "", false // address literal, IPv6, or a port
	}
	// Without a colon an address is IPv4, digits and dots only: a name
	// is not handed to ParseAddr, whose error costs an allocation.
	if onlyDigitsAndDots(n) {
		if _, err := netip.ParseAddr(n); err == nil {
			return "", false
		}
	}
	if !isASCII(n) {
		a, err := idna.Lookup.ToASCII(n)
		if err != nil {
			// Mail and web hosts in the wild break IDNA 2008's stricter
			// rules; Punycode alone still gives a comparable form.
			if a, err = idna.Punycode.ToASCII(n); err != nil {
				return "", false
			}
		}
		n = a
	}
	n = strings.ToLower(n)
	if len(n) > maxName {
		return "", false
	}
	for label := range strings.SplitSeq(n, ".") {
		if label == "" || len(label) > 63 {
			return "", false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return "", false
			}
		}
	}
	if isNumeric(n[strings.LastIndexByte(n, '.')+1:]) {
		return "", false // "10.1.2" and the like: no top-level domain is numeric
	}
	return n, true
}

// OrgDomain returns the organizational domain of name, normalised
// (Normalize), or "" when it has none: not a domain name, or a public
// suffix itself ("com", "co.uk", "localhost", a platform suffix below).
func OrgDomain(name string) string {
	n, ok := Normalize(name)
	if !ok {
		return ""
	}
	if d, ok := platformOrg(n); ok {
		return d
	}
	d, err := publicsuffix.EffectiveTLDPlusOne(n)
	if err != nil {
		return ""
	}
	return d
}

// platformSuffixes are mail platforms' domains that the Public Suffix List
// does not name, under which every customer gets a subdomain of its own
// and signs its mail with it (DKIM d= the subdomain, with a key the
// platform holds for that customer alone). Under the list they are one
// organisation, so one customer's signature aligns (relaxed) with every
// other customer's From; here each customer's subdomain is its own
// organisational domain, as on a public suffix. Only such platforms
// belong here: one that signs all its customers' mail with one key of its
// own (d=the platform) vouches for no customer, and its domain stays one
// organisation.
var platformSuffixes = []string{
	// Microsoft 365: every tenant's initial domain, kept for its life
	// and the d= its mail is signed with until the tenant publishes a key
	// for its own domain (Exchange Online signs with
	// selector1-TENANT-onmicrosoft-com._domainkey.TENANT.onmicrosoft.com).
	"onmicrosoft.com",
	// A tenant's routing domain (TENANT.mail.onmicrosoft.com), the
	// address domain of its mailboxes in hybrid set-ups, seen as From in
	// spam sent from tenants: under onmicrosoft.com alone every tenant's
	// would be the one organisation mail.onmicrosoft.com.
	"mail.onmicrosoft.com",
	// Microsoft 365 for the US government (GCC High, DoD): the same
	// initial domain under .us.
	"onmicrosoft.us",
	// Microsoft 365 in China, run by 21Vianet: TENANT.partner.onmschina.cn,
	// signed as d=TENANT.partner.onmschina.cn.
	"partner.onmschina.cn",
}

// platformOrg is the organisational domain of a normalised name under a
// platform suffix: the suffix and one label more, or "" for a suffix
// itself. ok is false when no platform suffix holds the name.
func platformOrg(n string) (string, bool) {
	best := ""
	for _, p := range platformSuffixes {
		if (n == p || strings.HasSuffix(n, "."+p)) && len(p) > len(best) {
			best = p // the longest: mail.onmicrosoft.com before onmicrosoft.com
		}
	}
	switch {
	case best == "":
		return "", false
	case n == best:
		return "", true
	}
	rest := n[:len(n)-len(best)-1]
	return rest[strings.LastIndexByte(rest, '.')+1:] + "." + best, true
}

// SameOrg reports whether a and b have the same, non-empty organizational
// domain: relaxed identifier alignment (RFC 7489 section 3.1).
func SameOrg(a, b string) bool {
	oa := OrgDomain(a)
	return oa != "" && oa == OrgDomain(b)
}

// Equal reports whether a and b are the same domain name after
// normalisation: strict alignment.
func Equal(a, b string) bool {
	na, ok := Normalize(a)
	if !ok {
		return false
	}
	nb, ok := Normalize(b)
	return ok && na == nb
}

// ICANNSuffix reports whether name ends in a public suffix managed by ICANN
// (a real top-level domain and its registries), rather than one that only
// the list's default rule or a private entry (blogspot.com) makes a suffix.
// Words that merely look like names ("file.txt") fail it; "R.Hughes" passes
// (.hughes is a brand TLD), so callers reading prose add their own care.
func ICANNSuffix(name string) bool {
	n, ok := Normalize(name)
	if !ok || !strings.Contains(n, ".") {
		return false
	}
	suffix, icann := publicsuffix.PublicSuffix(n)
	return icann && suffix != n
}

func onlyDigitsAndDots(s string) bool {
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && s[i] != '.' {
			return false
		}
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func isNumeric(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
