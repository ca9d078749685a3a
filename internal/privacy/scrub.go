package privacy

import (
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
	"unicode"

	"github.com/accord-antispam/accord/internal/dnsname"
	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// b64Runs returns the spans of b that may be base64 (or base64url) text —
// runs of at least 8 characters of either alphabet, with up to two "="
// after: per-recipient links often carry the address that way. (A byte
// loop: a regular expression costs a hundred times more on large parts.)
func b64Runs(b []byte) [][2]int {
	var out [][2]int
	in := func(c byte) bool {
		return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '_' || c == '-'
	}
	for i := 0; i < len(b); {
		if !in(b[i]) {
			i++
			continue
		}
		j := i
		for j < len(b) && in(b[j]) {
			j++
		}
		if j-i >= 8 {
			e := j
			for e < len(b) && e-j < 2 && b[e] == '=' {
				e++
			}
			out = append(out, [2]int{i, e})
		}
		i = j
	}
	return out
}

// decodedHolds reports whether tok, read as base64 in either alphabet and
// from any of the four alignments, holds one of their addresses.
func (p People) decodedHolds(tok []byte) bool {
	m := p.m()
	if len(m.addrs) == 0 {
		return false
	}
	t := strings.TrimRight(string(tok), "=")
	for off := 0; off < 4 && off < len(t); off++ {
		s := t[off:]
		s = s[:len(s)/4*4+min(len(s)%4, 3)]
		if len(s)%4 == 1 {
			s = s[:len(s)-1]
		}
		for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
			b, err := enc.DecodeString(s)
			if err != nil || len(b) < 6 {
				continue
			}
			if m.has(b) {
				return true
			}
		}
	}
	return false
}

// URL generalises a link to what identifies the spam run: scheme, host and
// the leading path segments up to the first one that could identify the
// recipient (an address, a local part, a name or a word of one in any
// case and with any separator, a base64 spelling of an address, or a
// per-recipient token). Query, fragment and user information always go:
// they carry tracking ids and addresses. A host with a label that names
// the recipient ("bob-durand.parcel-scam.example") is cut back to its
// registrable domain. The result is checked again as a whole: when it
// still holds a name (split across segments, say), only scheme and host
// stay, and when even the host does, the link is dropped. ok is false for
// links that are not web links (mailto:, …), cannot be read, or cannot be
// made safe.
func (p People) URL(raw string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return "", false
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" && scheme != "ftp" {
		return "", false
	}
	host := strings.ToLower(u.Hostname())
	if p.identifies(host) || anyAddr.MatchString(host) {
		d, err := publicsuffix.EffectiveTLDPlusOne(host)
		if err != nil || p.identifies(d) {
			return "", false
		}
		host = d
	} else {
		for _, label := range strings.Split(host, ".") {
			if tokenLike(label) {
				if d, err := publicsuffix.EffectiveTLDPlusOne(host); err == nil {
					host = d
				}
				break
			}
		}
	}
	if p.identifies(host) {
		return "", false
	}
	if port := u.Port(); port != "" {
		host += ":" + port
	}
	out := &url.URL{Scheme: scheme, Host: host}
	segs := strings.Split(strings.TrimPrefix(u.EscapedPath(), "/"), "/")
	var kept []string
	cut := false
	for _, seg := range segs {
		dec, err := url.PathUnescape(seg)
		if err != nil {
			dec = seg
		}
		if strings.Contains(dec, "@") || p.identifies(dec) || tokenLike(dec) || p.decodedHolds([]byte(seg)) {
			cut = true
			break
		}
		kept = append(kept, seg)
	}
	path := "/" + strings.Join(kept, "/")
	if cut && !strings.HasSuffix(path, "/") {
		path += "/"
	}
	if path == "/" && u.Path == "" {
		path = ""
	}
	out.RawPath = path
	out.Path, _ = url.PathUnescape(path)
	if dec, _ := url.PathUnescape(path); p.identifies(dec) {
		// Safe segments that name someone together: keep the host only.
		out.RawPath, out.Path = "", ""
	}
	return out.String(), true
}

// identifies reports whether s holds one of their addresses, local parts
// or names (names as words, in any case; the joined forms of a name's
// words also inside a longer word: "bobdurand2026").
func (p People) identifies(s string) bool {
	if s == "" {
		return false
	}
	if p.containsAny([]byte(s)) || p.HoldsDomain(s) {
		return true
	}
	l := fold(s)
	for _, lp := range p.LocalParts {
		if strings.Contains(l, lp) {
			return true
		}
	}
	if len(p.m().wordSpans([]byte(s))) > 0 {
		return true
	}
	if len(p.joined) > 0 {
		compact := strings.Map(func(r rune) rune {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				return r
			}
			return -1
		}, l)
		for _, j := range p.joined {
			if strings.Contains(compact, j) {
				return true
			}
		}
	}
	return false
}

// tokenLike reports whether a path segment or host label looks like an
// identifier minted per message or per recipient rather than a word of
// the site: long runs of digits, hex strings, or long mixes of letters and
// digits.
func tokenLike(s string) bool {
	if len(s) < 8 && !(len(s) >= 5 && strings.Trim(s, "0123456789") == "") {
		return false
	}
	name := s
	if i := strings.LastIndexByte(name, '.'); i > 0 && len(name)-i <= 5 {
		name = name[:i] // "offer.html": judge "offer"
	}
	digits, letters, hex, run, maxRun := 0, 0, 0, 0, 0
	for _, r := range name {
		switch {
		case unicode.IsDigit(r):
			digits++
			run++
		case unicode.IsLetter(r):
			letters++
			run = 0
		default:
			run = 0
		}
		if strings.ContainsRune("0123456789abcdefABCDEF", r) {
			hex++
		}
		maxRun = max(maxRun, run)
	}
	switch {
	case maxRun >= 5 && digits == len(name):
		return true // "/go/48213/": a number per recipient.
	case maxRun >= 6:
		return true
	case hex == len(name) && len(name) >= 8 && digits > 0:
		return true
	case len(name) >= 12 && digits >= 2 && letters >= 2 && digits+letters >= len(name)*3/4:
		return true
	case len(name) >= 20 && !strings.ContainsAny(name, "-_ ."):
		return true
	}
	return false
}

// HoldsDomain reports whether s names one of their domains: holds it as
// whole labels ("dupont-family.fr.webmail-verify.example",
// "/login/dupont-family.fr/", "mail.dupont-family.fr") or has its
// registrable name as a whole label or segment ("/login/dupont-family/"),
// in its ASCII (Punycode) or Unicode spelling, accents or not. A family's
// or a small firm's domain names them when the local part does not ("jd@",
// "contact@"). Only whole labels: a recipient at me.com or free.fr does
// not make prime.com or carefree.fr theirs. A large mailbox provider's
// domain (dnsname.MailboxProvider) names nobody but the exact domain: its
// name in a link ("gmail.account-verify.example", "/orange/facture") is
// what a phish impersonates, the signal a partner needs, not a person.
func (p People) HoldsDomain(s string) bool {
	if len(p.Domains) == 0 || s == "" {
		return false
	}
	doms := p.m().doms
	if len(doms) == 0 {
		return false
	}
	l := fold(s)
	var pieces []string
	sq := ""
	for _, d := range doms {
		if d.provider {
			if l == d.name {
				return true
			}
			continue
		}
		if len(wholeSpans(l, d.name)) > 0 {
			return true
		}
		// A link's segment that spells the domain or its name with any
		// separators, or none ("girard.famille", "girard+famille",
		// "girard famille", "girard~famille", "dupont-example",
		// "girard-famille-example"), or its name's words the other way
		// round ("famille-girard"): the same letters, when eight or more
		// of them, and four of its name, name no one else.
		if sq == "" {
			sq = squash(l)
		}
		if len(squash(d.label)) >= 4 {
			for _, w := range d.squashed() {
				if len(w) >= 8 && sq == w {
					return true
				}
			}
		}
		if len(d.label) < 4 {
			continue
		}
		if pieces == nil {
			// A host's public suffix is nobody's name ("pharma.example"
			// for a recipient at example.net).
			body := l
			if strings.Contains(l, ".") {
				if suffix, _ := publicsuffix.PublicSuffix(l); suffix != l {
					body = strings.TrimSuffix(l, "."+suffix)
				}
			}
			// "girard_famille" is written for "girard-famille" as often.
			pieces = strings.FieldsFunc(strings.ReplaceAll(body, "_", "-"), func(r rune) bool { return !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-') })
		}
		// The name run together ("girardfamille"), when it had a hyphen
		// and is long enough to name no one else.
		flat := strings.ReplaceAll(d.label, "-", "")
		for _, x := range pieces {
			if x == d.label || flat != d.label && len(flat) >= 8 && strings.ReplaceAll(x, "-", "") == flat {
				return true
			}
		}
	}
	return false
}

// domSpelling is one spelling of a person's domain, folded: the domain
// and its registrable name ("dupont-family"). provider marks a large
// mailbox provider's domain.
type domSpelling struct {
	name, label string
	provider    bool
}

// squashed are the letters and digits of the domain, of its registrable
// name, and of that name's hyphenated words the other way round
// ("girardfamilleexample", "girardfamille", "famillegirard").
func (d domSpelling) squashed() []string {
	out := []string{squash(d.name), squash(d.label)}
	if words := strings.Split(d.label, "-"); len(words) > 1 {
		slices.Reverse(words)
		out = append(out, squash(strings.Join(words, "")))
	}
	return out
}

// squash keeps a string's letters and digits.
func squash(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return r
		}
		return -1
	}, s)
}

// spellings are the ways a domain is written in links and text: as given,
// in Punycode, in Unicode and without accents ("café-dupont.fr",
// "xn--caf-dupont-b7a.fr", "cafe-dupont.fr"), each folded.
func spellings(d string) []domSpelling {
	provider := dnsname.MailboxProvider(dnsname.OrgDomain(d))
	var out []domSpelling
	seen := map[string]bool{}
	add := func(n string) {
		n = fold(n)
		if n == "" || seen[n] {
			return
		}
		seen[n] = true
		out = append(out, domSpelling{name: n, label: fold(domainName(n)), provider: provider})
	}
	// A recipient at a subdomain (bob@mail.girard-famille.example) is
	// named by its registrable domain too ("girard-famille.example:
	// mailbox full"); a provider's is nobody's.
	names := []string{d}
	if reg, err := publicsuffix.EffectiveTLDPlusOne(d); err == nil && reg != d && !provider {
		names = append(names, reg)
	}
	for _, n := range names {
		add(n)
		if a, err := idna.Punycode.ToASCII(n); err == nil {
			add(a)
		}
		if u, err := idna.Punycode.ToUnicode(n); err == nil {
			add(u)
		}
	}
	return out
}

// wholeSpans finds name in folded text where it stands as whole labels:
// not inside a longer name ("me.com" in "prime.com", "free.fr" in
// "free.fr-login.example"); a dot on either side is a label's edge.
func wholeSpans(l, name string) [][2]int {
	var out [][2]int
	inName := func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c >= 0x80
	}
	for off := 0; off <= len(l); {
		i := strings.Index(l[off:], name)
		if i < 0 {
			break
		}
		s, e := off+i, off+i+len(name)
		if !(s > 0 && inName(l[s-1])) && !(e < len(l) && inName(l[e])) {
			out = append(out, [2]int{s, e})
		}
		off = s + 1
	}
	return out
}

// domainName is a domain's registrable name without its public suffix
// ("dupont-family" of "mail.dupont-family.fr"), "" when it has none.
func domainName(d string) string {
	reg, err := publicsuffix.EffectiveTLDPlusOne(d)
	if err != nil {
		return ""
	}
	suffix, _ := publicsuffix.PublicSuffix(reg)
	return strings.TrimSuffix(reg, "."+suffix)
}
