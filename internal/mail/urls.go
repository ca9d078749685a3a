package mail

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"github.com/accord-antispam/accord/internal/dnsname"
)

// URL is one link found in a message, normalised.
type URL struct {
	URL        string   `json:"url"`              // Normalised: scheme and host lower-case, host in A-labels.
	Raw        string   `json:"raw,omitempty"`    // As written, when it differs.
	Host       string   `json:"host"`             // A-label form, or an IP address.
	Domain     string   `json:"domain,omitempty"` // Registrable domain (public suffix + 1).
	Source     string   `json:"source"`           // "href", "src", "action", "text", …
	Text       string   `json:"text,omitempty"`   // Anchor text of an <a> link.
	Obfuscated []string `json:"obfuscation"`      // How the link was disguised, if it was.
}

// normalizeURL parses and normalises one link. It returns ok=false for links
// that are not network locations (mailto, cid, javascript, anchors…).
func normalizeURL(raw, source string) (URL, bool) {
	s := strings.TrimSpace(raw)
	s = strings.Trim(s, "<>\"'")
	if s == "" {
		return URL{}, false
	}
	var obf []string
	// Defanged and obfuscated forms.
	if d, how := deobfuscate(s); how != nil {
		s = d
		obf = append(obf, how...)
	}
	l := strings.ToLower(s)
	switch {
	case strings.HasPrefix(l, "//"):
		s = "http:" + s
	case strings.HasPrefix(l, "www.") || strings.HasPrefix(l, "ftp."):
		s = "http://" + s
	case !strings.Contains(l, "://"):
		if source == "text" || source == "bare" {
			s = "http://" + s
		} else {
			return URL{}, false // relative link, mailto:, cid:, javascript:…
		}
	}
	if i := strings.Index(s, "://"); i > 0 {
		scheme := strings.ToLower(s[:i])
		if scheme != "http" && scheme != "https" && scheme != "ftp" {
			return URL{}, false
		}
	}
	// Browsers read backslashes as slashes; in the authority part that
	// hides where the host name ends.
	if strings.Contains(s, "\\") {
		auth := s[strings.Index(s, "://")+3:]
		if i := strings.IndexAny(auth, "/?#"); i >= 0 {
			auth = auth[:i]
		}
		if strings.Contains(auth, "\\") {
			obf = append(obf, "backslash")
		}
		s = strings.ReplaceAll(s, "\\", "/")
	}
	u, err := url.Parse(s)
	if err != nil {
		u, err = url.Parse(escapeLoose(s))
		if err != nil {
			// A host with %-escapes fails url.Parse; decode it by hand.
			return manualURL(s, raw, source, obf)
		}
	}
	return finishURL(u, raw, source, obf)
}

func manualURL(s, raw, source string, obf []string) (URL, bool) {
	i := strings.Index(s, "://")
	if i < 0 {
		return URL{}, false
	}
	rest := s[i+3:]
	end := strings.IndexAny(rest, "/?#")
	hostport := rest
	path := ""
	if end >= 0 {
		hostport, path = rest[:end], rest[end:]
	}
	if h, err := url.PathUnescape(hostport); err == nil && h != hostport {
		hostport = h
		obf = append(obf, "percent-host")
	}
	u := &url.URL{Scheme: strings.ToLower(s[:i]), Host: hostport}
	if p, err := url.Parse(escapeLoose(path)); err == nil {
		u.Path, u.RawQuery, u.Fragment = p.Path, p.RawQuery, p.Fragment
	}
	return finishURL(u, raw, source, obf)
}

func finishURL(u *url.URL, raw, source string, obf []string) (URL, bool) {
	if u.User != nil {
		obf = append(obf, "userinfo")
		u.User = nil
	}
	host := u.Hostname()
	port := u.Port()
	if h, err := url.PathUnescape(host); err == nil && h != host {
		host = h
		obf = append(obf, "percent-host")
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "" {
		return URL{}, false
	}
	if ip, ok := numericHost(host); ok {
		if _, err := netip.ParseAddr(host); err != nil {
			obf = append(obf, "numeric-host")
		}
		host = ip.String()
	} else {
		if !isASCII(host) {
			a, err := idna.Lookup.ToASCII(host)
			if err != nil {
				a, err = idna.Punycode.ToASCII(host)
			}
			if err != nil {
				return URL{}, false
			}
			host = a
			obf = append(obf, "idn")
		}
		if !validHost(host) {
			return URL{}, false
		}
	}
	out := URL{Host: host, Source: source, Obfuscated: dedupe(obf)}
	out.Domain = dnsname.OrgDomain(host) // "" for an address

	u.Scheme = strings.ToLower(u.Scheme)
	u.Host = host
	if strings.Contains(host, ":") {
		u.Host = "[" + host + "]"
	}
	if port != "" {
		u.Host += ":" + port
	}
	out.URL = u.String()
	if raw != out.URL {
		out.Raw = raw
	}
	return out, true
}

// deobfuscate undoes the defanging conventions (hxxp, [.], (dot)) that both
// security people and spammers use, and reports which were seen.
func deobfuscate(s string) (string, []string) {
	var how []string
	l := strings.ToLower(s)
	for _, p := range []string{"hxxp", "h**p", "hxtp", "htxp"} {
		if strings.HasPrefix(l, p) {
			s = "http" + s[len(p):]
			l = strings.ToLower(s)
			how = append(how, "scheme")
			break
		}
	}
	for _, d := range []string{"[.]", "(.)", "{.}", "[dot]", "(dot)", "{dot}", " dot "} {
		if strings.Contains(l, d) {
			s = replaceFold(s, d, ".")
			l = strings.ToLower(s)
			how = append(how, "dot")
		}
	}
	if strings.Contains(s, "[:]") || strings.Contains(s, "[://]") {
		s = strings.ReplaceAll(strings.ReplaceAll(s, "[://]", "://"), "[:]", ":")
		how = append(how, "scheme")
	}
	return s, how
}

func replaceFold(s, old, repl string) string {
	var b strings.Builder
	l := strings.ToLower(s)
	for {
		i := strings.Index(l, old)
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		b.WriteString(s[:i])
		b.WriteString(repl)
		s, l = s[i+len(old):], l[i+len(old):]
	}
}

// escapeLoose percent-escapes the characters that make url.Parse fail but
// that browsers accept (spaces, quotes, non-ASCII, stray percent signs).
func escapeLoose(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%' && (i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2])):
			b.WriteString("%25")
		case c <= ' ' || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '`' || c == '{' || c == '}' || c == '|' || c == '^':
			b.WriteString("%" + strings.ToUpper(strconv.FormatUint(uint64(c)>>4, 16)+strconv.FormatUint(uint64(c)&15, 16)))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isHex(c byte) bool { _, ok := unhex(c); return ok }

// numericHost recognises IPv4 addresses written as one integer, in hex or
// octal parts ("3232235777", "0xC0.0250.1.1"), which browsers resolve and
// filters often miss, as well as ordinary IP literals.
func numericHost(h string) (netip.Addr, bool) {
	// An IP literal has a colon (IPv6) or only digits and dots (IPv4); a
	// host name is not handed to ParseAddr and ParseUint, whose errors
	// cost an allocation each.
	if t := strings.Trim(h, "[]"); strings.IndexByte(t, ':') >= 0 || onlyBytes(t, "0123456789.") {
		if ip, err := netip.ParseAddr(t); err == nil {
			return ip.Unmap(), true
		}
	}
	if !onlyBytes(h, "0123456789abcdefABCDEFxX.") {
		return netip.Addr{}, false
	}
	parts := strings.Split(h, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		if p == "" {
			return netip.Addr{}, false
		}
		base := 10
		q := p
		switch {
		case strings.HasPrefix(q, "0x") || strings.HasPrefix(q, "0X"):
			base, q = 16, q[2:]
		case len(q) > 1 && q[0] == '0':
			base, q = 8, q[1:]
		}
		if q == "" {
			q = "0"
		}
		v, err := strconv.ParseUint(q, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	// inet_aton semantics: the last part fills the remaining bytes.
	var n uint64
	for i := 0; i < len(vals)-1; i++ {
		if vals[i] > 255 {
			return netip.Addr{}, false
		}
		n |= vals[i] << (8 * (3 - uint(i)))
	}
	last := vals[len(vals)-1]
	if last >= 1<<(8*(5-uint(len(vals)))) && len(vals) > 1 {
		return netip.Addr{}, false
	}
	n |= last
	if n > 0xffffffff {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

// onlyBytes reports whether every byte of s is one of set's.
func onlyBytes(s, set string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte(set, s[i]) < 0 {
			return false
		}
	}
	return true
}

func validHost(h string) bool {
	if len(h) > 253 || !strings.Contains(h, ".") {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	tld := h[strings.LastIndexByte(h, '.')+1:]
	return isAlpha(tld) || strings.HasPrefix(tld, "xn--")
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func dedupe(s []string) []string {
	if len(s) < 2 {
		return s
	}
	out := s[:0]
	seen := map[string]bool{}
	for _, v := range s {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// TextURLs finds the links written in plain text (as textURLs does).
func TextURLs(text string) []URL { return textURLs(text) }

// textURLs finds links written in plain text: with a scheme, starting with
// "www.", defanged, or bare domains under common top-level domains.
func textURLs(text string) []URL {
	var out []URL
	seen := map[string]bool{}
	for _, tok := range tokens(text) {
		// A link repeated a thousand times is normalised once.
		if seen[tok] || len(out) >= MaxURLs {
			continue
		}
		seen[tok] = true
		l := strings.ToLower(tok)
		src := ""
		switch {
		case strings.Contains(l, "://") || strings.Contains(l, "[://]") || strings.Contains(l, "[:]//"):
			if i := schemeStart(l); i >= 0 {
				tok = tok[i:]
				src = "text"
			}
		case strings.HasPrefix(l, "www.") || strings.HasPrefix(l, "www[.]"):
			src = "text"
		case strings.Contains(l, "[.]") || strings.Contains(l, "(.)") || strings.Contains(l, "[dot]"):
			src = "text"
		case !strings.Contains(l, "@") && looksLikeBareDomain(l):
			src = "bare"
		}
		if src == "" {
			continue
		}
		// Text links end at the first non-ASCII symbol (mis-decoded
		// punctuation follows them in much Asian spam).
		if i := strings.IndexFunc(tok, func(r rune) bool {
			return r >= 0x80 && !unicode.IsLetter(r) && !unicode.IsDigit(r)
		}); i >= 0 {
			tok = tok[:i]
		}
		if u, ok := normalizeURL(tok, src); ok {
			u.Source = "text"
			out = append(out, u)
		}
	}
	return out
}

func schemeStart(l string) int {
	for _, s := range []string{"https", "http", "hxxps", "hxxp", "h**ps", "h**p", "ftp"} {
		if i := strings.Index(l, s); i >= 0 {
			return i
		}
	}
	return -1
}

// tokens splits text on white space and the characters that delimit links
// in prose, then trims trailing punctuation; it keeps the tokens that can
// be links (four bytes or more, with a dot).
func tokens(text string) []string {
	var out []string
	keep := func(t string) {
		if len(t) < 4 || strings.IndexByte(t, '.') < 0 {
			return // most words: trimming cannot make them links
		}
		for len(t) > 0 && tokenTrimRight[t[len(t)-1]] {
			t = t[:len(t)-1]
		}
		for len(t) > 0 && tokenTrimLeft[t[0]] {
			t = t[1:]
		}
		if len(t) >= 4 && strings.IndexByte(t, '.') >= 0 {
			out = append(out, t)
		}
	}
	// Only a token with a dot is kept: the text is read from dot to dot
	// (IndexByte), each dot's token found by reading back to the white
	// space or delimiter before it and on to the one after. The tokens
	// between dots have none, and are not read.
	for pos := 0; pos < len(text); {
		d := strings.IndexByte(text[pos:], '.')
		if d < 0 {
			break
		}
		d += pos
		start := d
		for start > pos {
			c := text[start-1]
			if c < utf8.RuneSelf {
				if tokenSep[c] {
					break
				}
				start--
				continue
			}
			// A rune ending here: white space ends the token. (Every
			// white-space rune is valid UTF-8 with a lead byte that no
			// other rune can cover, so reading back finds the runes that
			// reading forward from pos finds.)
			r, w := utf8.DecodeLastRuneInString(text[pos:start])
			if unicode.IsSpace(r) {
				break
			}
			start -= w
		}
		end := d + 1
		next := len(text)
		for end < len(text) {
			c := text[end]
			if c < utf8.RuneSelf {
				if tokenSep[c] {
					next = end + 1
					break
				}
				end++
				continue
			}
			r, w := utf8.DecodeRuneInString(text[end:])
			if unicode.IsSpace(r) {
				next = end + w
				break
			}
			end += w
		}
		keep(text[start:end])
		pos = next
	}
	return out
}

// tokenTrimRight and tokenTrimLeft are the punctuation trimmed from a
// token's end (".,;:!?)]}*") and start ("([{*").
var tokenTrimRight, tokenTrimLeft = func() (r, l [256]bool) {
	for _, c := range ".,;:!?)]}*" {
		r[c] = true
	}
	for _, c := range "([{*" {
		l[c] = true
	}
	return r, l
}()

// tokenSep marks the ASCII bytes that end a token: white space and the
// characters that delimit links in prose.
var tokenSep = func() (t [256]bool) {
	for _, c := range "\t\n\v\f\r <>\"'`|" {
		t[c] = true
	}
	return t
}()

var bareTLDs = map[string]bool{"com": true, "net": true, "org": true, "info": true, "biz": true, "edu": true, "gov": true}

func looksLikeBareDomain(l string) bool {
	host := l
	path := false
	if i := strings.IndexAny(l, "/?"); i >= 0 {
		host, path = l[:i], true
	}
	if !validHost(host) || strings.Count(host, ".") < 1 {
		return false
	}
	tld := host[strings.LastIndexByte(host, '.')+1:]
	if bareTLDs[tld] {
		return true
	}
	if len(tld) == 2 && (path || strings.Count(host, ".") >= 2) {
		return dnsname.ICANNSuffix(host)
	}
	return false
}

// textEmails finds e-mail addresses in text.
func textEmails(text string) []string {
	var out []string
	for i := 0; i < len(text); i++ {
		if text[i] != '@' {
			j := strings.IndexByte(text[i:], '@')
			if j < 0 {
				break
			}
			i += j
		}
		s := i
		for s > 0 && isLocalChar(text[s-1]) {
			s--
		}
		e := i + 1
		for e < len(text) && isDomainChar(text[e]) {
			e++
		}
		local := strings.TrimLeft(text[s:i], ".")
		dom := strings.ToLower(strings.TrimRight(text[i+1:e], ".-"))
		if local == "" || !validHost(dom) {
			continue
		}
		out = append(out, local+"@"+dom)
		i = e - 1
	}
	return out
}

func isLocalChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("._%+-=", c) >= 0
}

func isDomainChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-'
}

// textPhones finds telephone numbers: international numbers with a "+", and
// national numbers written with the separators people use. Dates, times,
// IP addresses, prices and long identifiers are not numbers to call.
func textPhones(text string) []string {
	var out []string
	n := len(text)
	for i := 0; i < n; i++ {
		c := text[i]
		if !(c == '+' || c == '(' || c >= '0' && c <= '9') {
			continue
		}
		if i > 0 {
			p, _ := utf8.DecodeLastRuneInString(text[:i])
			if unicode.IsLetter(p) || unicode.IsDigit(p) || p == '$' || p == '€' || p == '£' || strings.ContainsRune("#./-+=_&?:%~", p) {
				continue
			}
		}
		j := i
		digits := 0
		seps := 0
		lastSpace := false
		for j < n {
			d := text[j]
			switch {
			case d >= '0' && d <= '9':
				digits++
				lastSpace = false
			case d == '+' && j == i:
			case d == ' ':
				if lastSpace {
					goto done
				}
				lastSpace = true
				seps++
			case d == '-' || d == '.' || d == '(' || d == ')' || d == '/':
				seps++
				lastSpace = false
			default:
				goto done
			}
			j++
			if digits > 15 {
				break
			}
		}
	done:
		cand := strings.TrimRight(text[i:j], " -./(")
		end := i + len(cand)
		i = j
		if end < n {
			r, _ := utf8.DecodeRuneInString(text[end:])
			if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '%' || r == '@' || r == '/' || r == '=' || r == '&' || r == '_' {
				continue
			}
		}
		if ph, ok := phoneNumber(cand); ok {
			out = append(out, ph)
		}
	}
	return out
}

func phoneNumber(c string) (string, bool) {
	var d strings.Builder
	var groups []int
	inGroup := false
	for i := 0; i < len(c); i++ {
		if c[i] >= '0' && c[i] <= '9' {
			d.WriteByte(c[i])
			if !inGroup {
				groups = append(groups, 0)
				inGroup = true
			}
			groups[len(groups)-1]++
		} else {
			inGroup = false
		}
	}
	digits := d.String()
	if len(digits) < 7 {
		return "", false
	}
	if strings.HasPrefix(c, "+") {
		if len(digits) >= 8 && len(digits) <= 15 && len(groups) >= 1 {
			return "+" + digits, true
		}
		return "", false
	}
	if isYearRange(c) || isDateLike(c) || strings.Contains(c, ":") {
		return "", false
	}
	// North American numbering: (212) 555-1234, 212-555-1234, 1-800-555-1234,
	// and the bare local form 555-1234.
	switch {
	case equalInts(groups, 3, 3, 4), equalInts(groups, 1, 3, 3, 4) && digits[0] == '1':
		return digits, true
	case equalInts(groups, 3, 4) && strings.Contains(c, "-"):
		return digits, true
	}
	// National numbers with a trunk prefix 0, as written in Europe and
	// elsewhere: 01 23 45 67 89, 0171 555 1234, 020-7946-0018.
	if digits[0] == '0' && len(digits) >= 9 && len(digits) <= 12 && len(groups) >= 2 {
		for _, g := range groups {
			if g < 2 || g > 5 {
				return "", false
			}
		}
		return digits, true
	}
	return "", false
}

func equalInts(a []int, b ...int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func isYearRange(c string) bool {
	f := strings.FieldsFunc(c, func(r rune) bool { return r < '0' || r > '9' })
	if len(f) != 2 {
		return false
	}
	for _, y := range f {
		if len(y) != 4 || !(strings.HasPrefix(y, "19") || strings.HasPrefix(y, "20")) {
			return false
		}
	}
	return true
}

func isDateLike(c string) bool {
	f := strings.FieldsFunc(c, func(r rune) bool { return r == '-' || r == '.' || r == '/' })
	if len(f) != 3 {
		return false
	}
	a, b, y := f[0], f[1], f[2]
	if len(a) == 4 {
		a, y = y, a
	}
	return len(y) == 4 && len(a) <= 2 && len(b) <= 2
}
