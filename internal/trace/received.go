package trace

import (
	"net/netip"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/accord-antispam/accord/internal/mail"
)

// Kinds of hop. Only relays carry a client IP and take part in the trust
// boundary; the others are kept and shown, but skipped.
const (
	KindRelay     = "relay"    // A network handover with the client's IP.
	KindLocal     = "local"    // Local submission or handover (pipe, LMTP, uid…).
	KindFetch     = "fetch"    // A mail fetcher (fetchmail, getmail): POP3/IMAP.
	KindUnparsed  = "unparsed" // A "from" clause with no recognisable IP.
	KindHeaderTag = "x-header" // An originating-IP header left by a webmail service.
)

// Hop is one Received field (or an originating-IP header), parsed. Names are
// as the receiving host wrote them: From and HELO are the client's claims,
// RDNS is what the receiving host found in DNS, IP is the connecting address.
type Hop struct {
	Index    int        `json:"index"` // Position among the fields, 0 = newest.
	Kind     string     `json:"kind"`
	From     string     `json:"from,omitempty"`
	HELO     string     `json:"helo,omitempty"`
	RDNS     string     `json:"rdns,omitempty"`
	IP       string     `json:"ip,omitempty"`
	By       string     `json:"by,omitempty"`
	ByIP     string     `json:"by_ip,omitempty"` // The receiver's own address, when it wrote it ("by name (ip)").
	Protocol string     `json:"protocol,omitempty"`
	ID       string     `json:"id,omitempty"`
	For      string     `json:"for,omitempty"`
	Time     *time.Time `json:"time,omitempty"`
	Auth     string     `json:"auth,omitempty"` // Authenticated submission, and how.
	Trusted  bool       `json:"trusted"`
	// Boundary places the hop against the trust boundary: "inside" (the
	// client is inside the receiving organisation), "origin" (the first
	// client outside it), "beyond" (below the origin: the sender's claims)
	// or "client-written" (below an authenticated submission: written by
	// the sending client itself).
	Boundary Place  `json:"boundary"`
	Why      string `json:"why"`                // Why the hop is placed there.
	Provider string `json:"provider,omitempty"` // The known provider whose server received this hop.
	// NoRDNS: the receiver wrote that the client has no reverse name it
	// could confirm — Postfix's and Courier's "helo (unknown [ip])", which
	// Postfix writes when the address has no PTR record or the name does
	// not resolve back to it. Only the named form counts: qmail's "from
	// unknown" is written by receivers that never look the name up.
	NoRDNS bool   `json:"no_rdns,omitempty"`
	Flags  []Flag `json:"flags"`
	Raw    string `json:"raw"`

	addr   netip.Addr
	byAddr netip.Addr
	forged bool // the receiving host said "may be forged" about rdns
	// rdnsVerified: the receiver wrote the reverse name in a form it uses
	// only once the name resolves back to the address (Postfix's and
	// Sendmail's "helo (name [ip])" without "may be forged", Exim's "name
	// ([ip] …)"). qmail's, Gmail's and IMail's names are not checked.
	rdnsVerified bool
	// addrInGreeting: the only address is the first word of the from
	// clause, where SMTP receivers write the client's greeting ("from
	// [192.0.2.1] by …"): it may be the client's own claim, not the
	// connecting address the receiver saw.
	addrInGreeting bool
	// ambiguous: the from clause could be read more than one way with the
	// client's words as the receiver's; it is left unparsed.
	ambiguous bool
	// softwareName is the software the receiver named in the comment of
	// its "with" or "by" clause ("Exim 4.96", "fetchmail-6.4.37").
	softwareName string
}

// Addr returns the client address, if the hop has one.
func (h *Hop) Addr() (netip.Addr, bool) { return h.addr, h.addr.IsValid() }

// RDNSVerified reports whether the receiver recorded the reverse name in a
// form it writes only for a name that resolves back to the address.
func (h *Hop) RDNSVerified() bool { return h.RDNS != "" && h.rdnsVerified }

// Flag is something wrong with a hop.
type Flag struct {
	Code     FlagCode `json:"code"`
	Severity Severity `json:"severity"`
	Reason   string   `json:"reason"`
}

// Severity says what a flag means for the hop.
type Severity string

// Severities of a flag.
const (
	Forged       Severity = "forged"       // The hop cannot be true as written.
	Inconsistent Severity = "inconsistent" // Odd, with innocent explanations too.
)

// FlagCode names a hop flag; the codes are stable (docs/verdict.md).
type FlagCode string

// Hop flag codes.
const (
	FlagUnparseable     FlagCode = "unparseable"
	FlagRDNSUnconfirmed FlagCode = "rdns-unconfirmed"
	FlagHELOIPMismatch  FlagCode = "helo-ip-mismatch"
	FlagHELOIsReceiver  FlagCode = "helo-is-receiver"
	FlagBogonIP         FlagCode = "bogon-ip"
	FlagChainMismatch   FlagCode = "chain-mismatch"
	FlagTimeFuture      FlagCode = "time-future"
	FlagTimePast        FlagCode = "time-past"
	FlagTimeReversed    FlagCode = "time-reversed"
)

// A Received field is read from the structure its receiver writes (RFC
// 5321 section 4.4): "from" the client's greeting, then in parentheses or
// brackets what the receiver recorded of the connection (its reverse name
// and address), "by" the receiver's own name, "with" the protocol it spoke,
// "id", "for", and after the last ";" the date. The client chooses its
// greeting — "[10.0.0.1]", "a[127.0.0.1]", "with", "(x",
// "getmail.spam.example", and, since Postfix joins the words of a HELO with
// spaces, "a 10.0.0.1", "a with POP3" or "a (localhost [127.0.0.1])" — so
// the greeting is taken whole and never read for an address, a clause or a
// comment: the word after "from", or, when the receiver's record of the
// client ("(name [ip])", "(ip)") closes the from clause, everything before
// that record (greetingEnd). A from clause of several words that no such
// record closes, holding a clause word or an open comment, is left
// unparsed. The other places are the receiver's own writing. Where the
// client's text appears inside the receiver's comments (Exim's "helo=x",
// qmail's "(HELO x)") it is skipped as such.

// token kinds
const (
	tokWord    = 'w' // an atom
	tokGreet   = 'g' // the word after "from", taken whole: the client's greeting
	tokComment = 'c' // a (comment), text without the parentheses
	tokLiteral = 'b' // an [address literal]
	tokAtom    = 'q' // a "quoted string" or an <angle address>, kept whole
	tokSemi    = ';'
)

type token struct {
	kind byte
	text string
	end  int // offset just past the token in the scanned value
}

// The clause words by number: clauseOf(w) is w's, case-insensitively, or 0
// (a word as long as a clause word that EqualFold matches is ASCII, so
// this is strings.ToLower(w) == name, without the lower-cased copy). A
// field's clauses are kept in an array by number, not a map per field.
var clauseNames = [...]string{"", "from", "by", "via", "with", "id", "for"}

const (
	clauseFrom = 1 + iota
	clauseBy
	clauseVia
	clauseWith
	clauseID
	clauseFor
)

func clauseOf(w string) int {
	if len(w) < 2 || len(w) > 4 {
		return 0
	}
	for c := 1; c < len(clauseNames); c++ {
		if len(w) == len(clauseNames[c]) && strings.EqualFold(w, clauseNames[c]) {
			return c
		}
	}
	return 0
}

// scanReceived splits a Received value into tokens, left to right, each
// byte looked at a bounded number of times. The word after the first
// top-level "from" is a tokGreet; with greetEnd > 0 the greeting runs to
// that offset, spaces and all (greetingEnd).
func scanReceived(s string, greetEnd int) []token {
	out := make([]token, 0, 24)
	greet := false
	fromSeen := false
	i := 0
	for i < len(s) {
		c := s[i]
		if c == ' ' || c == '\t' || c == '\r' || c == '\n' {
			i++
			continue
		}
		if greet && greetEnd > i {
			out = append(out, token{tokGreet, s[i:greetEnd], greetEnd})
			greet = false
			i = greetEnd
			continue
		}
		if greet {
			j := i
			for j < len(s) && s[j] != ' ' && s[j] != '\t' && s[j] != '\r' && s[j] != '\n' {
				j++
			}
			out = append(out, token{tokGreet, s[i:j], j})
			greet = false
			i = j
			continue
		}
		switch c {
		case '(':
			j := skipComment(s, i)
			end := j
			if end > len(s) {
				end = len(s)
			}
			text := s[i+1 : end]
			if j <= len(s) && end > i+1 && s[end-1] == ')' {
				text = s[i+1 : end-1]
			}
			out = append(out, token{tokComment, strings.TrimSpace(text), end})
			i = end
		case '"':
			j := skipQuoted(s, i)
			out = append(out, token{tokAtom, s[i:j], j})
			i = j
		case '<':
			j := i + 1
			for j < len(s) && s[j] != '>' {
				if s[j] == '"' {
					j = skipQuoted(s, j)
					continue
				}
				j++
			}
			if j < len(s) {
				j++
			}
			out = append(out, token{tokAtom, s[i:j], j})
			i = j
		case ';':
			out = append(out, token{tokSemi, ";", i + 1})
			i++
		case '[':
			if j, ok := literalEnd(s, i); ok {
				// "[192.0.2.1]:25" stays one literal; the port is dropped.
				k := j
				for k < len(s) && s[k] != ' ' && s[k] != '\t' && s[k] != '(' && s[k] != ';' {
					k++
				}
				out = append(out, token{tokLiteral, s[i:j], k})
				i = k
				continue
			}
			fallthrough
		default:
			j := i
			for j < len(s) && s[j] != ' ' && s[j] != '\t' && s[j] != '\r' && s[j] != '\n' && s[j] != '(' && s[j] != ';' {
				j++
			}
			w := s[i:j]
			out = append(out, token{tokWord, w, j})
			if !fromSeen && strings.EqualFold(w, "from") {
				fromSeen, greet = true, true
			}
			i = j
		}
	}
	return out
}

// skipComment returns the offset just past the comment opening at s[i]
// (nested comments and quoted pairs included), or len(s) when it never
// closes.
func skipComment(s string, i int) int {
	depth := 0
	for j := i; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return j + 1
			}
		}
	}
	return len(s)
}

// skipQuoted returns the offset just past the quoted string opening at s[i].
func skipQuoted(s string, i int) int {
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(s)
}

// literalEnd reports the end of an address literal opening at s[i]: only
// address characters ("IPv6:" prefix, hex digits, '.', ':', a zone) before
// the "]". Anything else is not a literal.
func literalEnd(s string, i int) (int, bool) {
	j := i + 1
	if len(s)-j >= 5 && strings.EqualFold(s[j:j+5], "ipv6:") {
		j += 5
	}
	for ; j < len(s) && j-i < 80; j++ {
		c := s[j]
		switch {
		case c == ']':
			return j + 1, j > i+1
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F', c == '.', c == ':', c == '%':
		default:
			return 0, false
		}
	}
	return 0, false
}

// oneSpaced is strings.Join(strings.Fields(s), " "): the words of s, one
// space apart. Most field values already are, and are returned as they
// are; the rest are rebuilt in one pass.
func oneSpaced(s string) string {
	if isOneSpaced(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	start := -1 // the word being read, written whole at its end
	for i := 0; i < len(s); {
		space, w := spaceAt(s, i)
		switch {
		case space && start >= 0:
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(s[start:i])
			start = -1
		case !space && start < 0:
			start = i
		}
		i += w
	}
	if start >= 0 {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[start:])
	}
	return b.String()
}

// isOneSpaced reports whether s has no white space but single ' ' between
// words.
func isOneSpaced(s string) bool {
	prevSpace := true // white space at the start is not
	for i := 0; i < len(s); {
		space, w := spaceAt(s, i)
		if space {
			if prevSpace || s[i] != ' ' {
				return false
			}
		}
		prevSpace = space
		i += w
	}
	return s == "" || !prevSpace
}

// spaceAt reports whether the character at s[i] is white space as
// strings.Fields sees it (unicode.IsSpace), and its length in bytes.
func spaceAt(s string, i int) (bool, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return asciiSpace[c], 1
	}
	r, w := utf8.DecodeRuneInString(s[i:])
	return unicode.IsSpace(r), w
}

var asciiSpace = [256]bool{'\t': true, '\n': true, '\v': true, '\f': true, '\r': true, ' ': true}

// ParseReceived parses one Received field value. It never fails: what it
// cannot read is kept in Raw with Kind "unparsed" or "local".
func ParseReceived(value string) Hop {
	v := oneSpaced(value)
	h := Hop{Raw: v}
	greetEnd, ambiguous := greetingEnd(v)
	toks := scanReceived(v, greetEnd)
	// The date follows the last top-level ";".
	for k := len(toks) - 1; k >= 0; k-- {
		if toks[k].kind == tokSemi {
			if t, err := mail.ParseDate(strings.TrimSpace(v[toks[k].end:])); err == nil {
				h.Time = &t
			}
			toks = toks[:k]
			break
		}
	}
	// The tokens of each clause, by clauseOf's number (0: before any).
	var clauses [len(clauseNames)][]token
	var seen [len(clauseNames)]bool
	cur := 0
	for k, t := range toks {
		if t.kind == tokGreet && clauseOf(t.text) > 0 && !laterWord(toks[k+1:], t.text) &&
			k+1 < len(toks) && toks[k+1].kind == tokWord {
			// "from by host with ESMTP": the client sent an empty greeting
			// and the word after "from" is the receiver's clause (a greeting
			// is followed by what the receiver recorded, in parentheses).
			t.kind = tokWord
		}
		if t.kind == tokWord {
			if c := clauseOf(t.text); c > 0 && (c != clauseFor || cur != clauseFrom) {
				if !seen[c] {
					seen[c], cur = true, c
					continue
				}
			}
		}
		if t.kind == tokSemi {
			continue
		}
		clauses[cur] = append(clauses[cur], t)
	}
	h.readBy(clauses[clauseBy])
	with := clauses[clauseWith]
	h.readWith(with, clauses[clauseVia])
	if ids := clauses[clauseID]; len(ids) > 0 {
		h.ID = strings.Trim(ids[0].text, "<>;")
	}
	if f := clauses[clauseFor]; len(f) > 0 {
		h.For = strings.Trim(f[0].text, "<>;")
	}
	if ambiguous {
		// Only the receiver's tail is read; the field gives no client,
		// unless the receiver says it is a hand-over inside the host
		// (qmail-scanner's "from x by host by uid 500 with
		// qmail-scanner-1.10").
		t := ParseReceived(v[receiverBy(v):])
		t.Raw = v
		if !software(nil, nil, t.Protocol).local {
			t.Kind, t.ambiguous = KindUnparsed, true
		}
		return t
	}
	from, hasFrom := clauses[clauseFrom], seen[clauseFrom]
	sw := software(with, clauses[clauseBy], h.Protocol)
	h.softwareName = sw.name
	h.detectAuth(from)
	switch {
	case !hasFrom:
		h.Kind = KindLocal
		return h
	case sw.fetch:
		h.Kind = KindFetch
		h.readFrom(from, sw)
		return h
	}
	h.readFrom(from, sw)
	switch {
	case sw.local:
		h.Kind = KindLocal
	case h.addr.IsValid():
		h.Kind = KindRelay
	case sw.lmtp, sw.exim, localWords(from):
		// LMTP over the store's local socket: the MTA of the same system.
		// Exim records the address of every network client, so a field of
		// its own without one is a local submission ("from amavis by host
		// with scanned-ok (Exim …)").
		h.Kind = KindLocal
	default:
		h.Kind = KindUnparsed
	}
	if h.Kind == KindLocal {
		h.HELO, h.RDNS, h.rdnsVerified, h.NoRDNS = "", "", false, false
	}
	return h
}

// laterWord reports whether w occurs as a top-level word in ts.
func laterWord(ts []token, w string) bool {
	for _, t := range ts {
		if t.kind == tokWord && strings.EqualFold(t.text, w) {
			return true
		}
	}
	return false
}

// localWords recognises hand-overs inside one host that receivers write
// with a from clause but no client: "from userid 1000" and Exchange's "from
// mail pickup service". A greeting cannot produce them: it is one word.
func localWords(from []token) bool {
	for _, t := range from[min(1, len(from)):] {
		// Sendmail's record of a local connection: "(user@localhost)",
		// "(localhost [[UNIX: localhost]])".
		if t.kind != tokComment {
			continue
		}
		l := strings.ToLower(t.text)
		if strings.Contains(l, "[unix: ") || !strings.ContainsAny(l, " \t[") && (strings.HasSuffix(l, "@localhost") || strings.HasSuffix(l, "@localhost.localdomain")) {
			return true
		}
	}
	if len(from) < 2 || from[1].kind != tokWord {
		return false
	}
	g, w := strings.ToLower(from[0].text), strings.ToLower(from[1].text)
	switch {
	case g == "userid" && w != "" && strings.Trim(w, "0123456789") == "":
		return true
	case g == "mail" && w == "pickup" && len(from) > 2 && strings.EqualFold(from[2].text, "service"):
		return true
	}
	return false
}

// sw is what a receiver says about itself: its software and the protocol.
type sw struct {
	name            string
	exim, microsoft bool
	fetch, local    bool
	lmtp            bool
	greetless       bool // a protocol with no SMTP greeting: the from word is the receiver's
}

// software reads the receiver's own words about itself: the protocol
// ("with POP3", "with LMTP"), and the software it names in the comment of
// its "with" or "by" clause ("(Exim 4.96)", "(fetchmail-6.4.37)").
func software(with, by []token, protocol string) sw {
	var s sw
	p := strings.ToUpper(protocol)
	switch p {
	case "POP3", "POP", "IMAP", "IMAP4", "POP3S", "IMAPS", "POP3-SSL", "IMAP-SSL", "IMAP4-SSL", "SDPS":
		s.fetch = true
	case "LOCAL", "BSMTP", "UUCP", "STDIN", "HTTPREST", "SPOOL":
		// HTTPREST: a submission through an API (Gmail's), named by the
		// client's project number, with no address to trace.
		s.local = true
	}
	if strings.HasPrefix(p, "LOCAL-") || strings.Contains(p, "SCANNER") {
		// qmail-scanner and its kin re-inject what they scanned.
		s.local = true
	}
	s.lmtp = strings.HasPrefix(p, "LMTP")
	switch {
	case strings.HasPrefix(p, "MICROSOFT"):
		s.microsoft = true
	case s.fetch, s.local, strings.HasPrefix(p, "HTTP"), p == "NNFMP":
		s.greetless = true
	}
	for _, ts := range [][]token{with, by} {
		for _, t := range ts {
			if t.kind != tokComment {
				continue
			}
			l := strings.ToLower(t.text)
			switch {
			case strings.HasPrefix(l, "exim "):
				s.exim, s.name = true, t.text
			case strings.HasPrefix(l, "fetchmail"), strings.HasPrefix(l, "getmail"):
				s.fetch, s.greetless, s.name = true, true, t.text
			}
		}
	}
	return s
}

func (h *Hop) readBy(ts []token) {
	for i, t := range ts {
		if t.kind == tokWord || t.kind == tokLiteral {
			h.By = cleanName(t.text)
			if a, err := netip.ParseAddr(strings.Trim(h.By, "[]")); err == nil {
				h.setByIP(a)
			} else if i+1 < len(ts) && ts[i+1].kind == tokComment {
				// Exchange and qmail: "by name (ip)"; Postfix writes
				// "(Postfix)" there, which is no address.
				c := strings.Trim(ts[i+1].text, "[] ")
				if a, err := netip.ParseAddr(c); err == nil {
					h.setByIP(a)
				}
			}
			return
		}
	}
}

func (h *Hop) setByIP(a netip.Addr) {
	a = a.Unmap()
	if a.Zone() != "" {
		a = a.WithZone("")
	}
	h.byAddr = a
	h.ByIP = a.String()
}

func (h *Hop) readWith(with, via []token) {
	for _, t := range with {
		if t.kind == tokWord {
			h.Protocol = strings.TrimRight(t.text, ";")
			if i := strings.IndexByte(h.Protocol, '('); i > 0 {
				h.Protocol = h.Protocol[:i]
			}
			break
		}
	}
	if h.Protocol == "" {
		for _, t := range via {
			if t.kind == tokWord {
				h.Protocol = strings.TrimRight(t.text, ";")
				break
			}
		}
	}
	// "with Microsoft SMTPSVC(…)" and "with Microsoft SMTP Server".
	if strings.EqualFold(h.Protocol, "Microsoft") && len(with) > 1 && with[1].kind == tokWord {
		h.Protocol = "Microsoft " + strings.SplitN(with[1].text, "(", 2)[0]
	}
}

// detectAuth recognises authenticated submission in the receiver's own
// words: RFC 3848 protocol names (ESMTPA, ESMTPSA…), webmail protocols, and
// the comments MTAs write in the from clause ("(Authenticated sender:
// alice)", "(authenticated bits=0)", "(AUTH: LOGIN alice)"). LMTPA is an
// MTA authenticating to its mail store, not a submission.
func (h *Hop) detectAuth(from []token) {
	p := strings.ToUpper(h.Protocol)
	switch p {
	case "ESMTPA", "ESMTPSA", "UTF8SMTPA", "UTF8SMTPSA", "ASMTP":
		h.Auth = p
		return
	case "HTTP", "HTTPS", "HTTPU":
		// Webmail: the user logged in to write the message.
		h.Auth = "webmail"
		return
	}
	for _, t := range from {
		if t.kind != tokComment {
			continue
		}
		l := strings.ToLower(t.text)
		switch {
		case strings.HasPrefix(l, "authenticated sender:"):
			h.Auth = "authenticated-sender"
		case l == "authenticated" || strings.HasPrefix(l, "authenticated ") || strings.HasPrefix(l, "authenticated("):
			h.Auth = "authenticated"
		case strings.HasPrefix(l, "auth: "):
			h.Auth = "auth"
		case strings.Contains(l, " authenticated user "):
			h.Auth = "webmail"
		default:
			continue
		}
		return
	}
}

// addrForm is how the receiver wrote the client's address.
type addrForm int

const (
	formNone     addrForm = iota
	formNamed             // "(name [ip])", "(name[ip])", "(IDENT:u@name [ip])": Postfix, Sendmail, Gmail, Courier
	formBracket           // "([ip] …)": Exim, or Sendmail and Exchange without a reverse name
	formBare              // "(ip)", "(ident@ip)": qmail, Exchange
	formLiteral           // "greeting [ip]" outside parentheses: Smail, IMail, fetchmail
	formGreeting          // only the from word holds an address
)

// commentAddr is what one comment of the from clause records.
type commentAddr struct {
	form     addrForm
	ident    bool   // "ident@ip", "@[ip]": an ident answer, not a name
	name     string // the reverse name before the address, if any
	dotted   bool   // the name was written with a final dot (Gmail)
	helo     string // "helo=x" (Exim), "HELO x" (qmail)
	heloSeen bool
	forged   bool // "may be forged" (Sendmail)
}

// readComment reads one comment of the from clause. Words that carry the
// client's greeting ("helo=x", "HELO x") are skipped as addresses.
func (h *Hop) readComment(text string, want bool) commentAddr {
	var c commentAddr
	l := strings.ToLower(text)
	if strings.Contains(l, "may be forged") {
		c.forged = true
	}
	if strings.HasPrefix(l, "envelope-from") || strings.HasPrefix(l, "authenticated") || strings.HasPrefix(l, "auth:") {
		return c
	}
	f := strings.Fields(text)
	for i := 0; i < len(f); i++ {
		w := strings.TrimRight(f[i], ",;")
		lw := strings.ToLower(w)
		switch {
		case lw == "helo" || lw == "ehlo":
			c.heloSeen = true
			if i+1 < len(f) {
				c.helo = cleanName(strings.TrimRight(f[i+1], ",)"))
				i++
			}
			continue
		case strings.HasPrefix(lw, "helo=") || strings.HasPrefix(lw, "ehlo="):
			c.heloSeen = true
			c.helo = cleanName(w[5:])
			continue
		case strings.Contains(lw, "="):
			continue // "ident=x", "port=…"
		}
		// Sendmail's "(ident@[ip] [ip])": the ident part is the
		// client's identd's answer; the last bracketed address is the
		// client the receiver saw.
		override := c.ident && strings.HasPrefix(w, "[")
		if !want || c.form != formNone && !override {
			continue
		}
		switch {
		case strings.HasPrefix(w, "["):
			lit := w
			if j := strings.IndexByte(lit, ']'); j >= 0 {
				lit = lit[:j+1]
			}
			if !h.setIP(strings.Trim(lit, "[]")) {
				continue
			}
			c.form, c.ident = formBracket, false
			if i > 0 {
				prev := f[i-1]
				if j := strings.LastIndexByte(prev, '@'); j >= 0 {
					prev = prev[j+1:] // "IDENT:user@name [ip]"
				}
				prev = strings.TrimPrefix(prev, "IDENT:")
				if looksLikeHost(prev) || isUnknown(prev) {
					c.form, c.name = formNamed, prev
				}
			}
		case strings.HasSuffix(w, "]") && strings.IndexByte(w, '[') > 0:
			// "name[ip]", "ident@[ip]"
			j := strings.IndexByte(w, '[')
			if !h.setIP(w[j+1 : len(w)-1]) {
				continue
			}
			pre := w[:j]
			if k := strings.LastIndexByte(pre, '@'); k >= 0 {
				if k == len(pre)-1 || !looksLikeHost(pre[k+1:]) {
					c.form, c.ident = formBare, true // qmail "ident@[ip]"
					continue
				}
				pre = pre[k+1:]
			}
			c.form, c.name = formNamed, strings.TrimPrefix(pre, "IDENT:")
		default:
			cand := w
			ident := false
			if k := strings.LastIndexByte(cand, '@'); k >= 0 {
				cand, ident = cand[k+1:], true // qmail "(ident@ip)"
			}
			if h.setIP(stripPort(cand)) {
				c.form, c.ident = formBare, ident
			}
		}
	}
	if c.name != "" {
		c.dotted = strings.HasSuffix(c.name, ".")
		c.name = cleanName(c.name)
	}
	return c
}

// readFrom interprets the from clause: the client's greeting (the first
// word, taken whole), then what the receiver recorded of the connection.
func (h *Hop) readFrom(ts []token, s sw) {
	if len(ts) == 0 {
		return
	}
	first := ts[0].text
	rest := ts[1:]
	if ts[0].kind != tokGreet {
		rest, first = ts, ""
	}
	var rec commentAddr // the comment or literal that holds the address
	heloSeen, helo := false, ""
	forged := false
	for k, t := range rest {
		switch t.kind {
		case tokLiteral:
			if rec.form == formNone && h.setIP(strings.Trim(t.text, "[]")) {
				rec.form = formLiteral
			}
		case tokWord:
			// Exchange 5.5: "greeting - 192.0.2.1 by …". Only after its
			// "-": a bare address word elsewhere may be the second word of
			// a greeting that no record of the receiver's closes.
			if rec.form == formNone && k > 0 && rest[k-1].kind == tokWord && rest[k-1].text == "-" && h.setIP(t.text) {
				rec.form = formLiteral
			}
			// "name(ip), claiming to be \"greeting\"" (InterJet).
			if strings.EqualFold(t.text, "be") && k+1 < len(rest) && rest[k+1].kind == tokAtom && k >= 2 && strings.EqualFold(rest[k-2].text, "claiming") {
				heloSeen, helo = true, cleanName(rest[k+1].text)
			}
		case tokComment:
			c := h.readComment(t.text, rec.form == formNone)
			forged = forged || c.forged
			if c.heloSeen && !heloSeen {
				heloSeen, helo = true, c.helo
			}
			if rec.form == formNone && c.form != formNone {
				rec = c
			}
		}
	}
	h.forged = forged
	name, inner := splitGreeting(first)
	if strings.Contains(first, " ") {
		// A greeting of several words (greetingEnd), taken whole.
		name, inner = first, ""
	}
	if rec.form == formNone && first != "" {
		// Only the from word holds an address: Exim's "[ip] (helo=x)",
		// webmail's "from 192.0.2.1 … with HTTP", Yahoo's "from [ip] by …
		// with NNFMP", smap's "name(ip)"; or an SMTP greeting the receiver
		// copied, which the client chose.
		cand := inner
		if cand == "" {
			cand = name
		}
		if j := strings.IndexByte(cand, '['); j >= 0 && strings.HasSuffix(cand, "]") {
			cand = cand[j+1 : len(cand)-1]
		}
		if h.setIP(strings.Trim(cand, "[]")) {
			rec.form = formGreeting
			h.addrInGreeting = !heloSeen && !s.greetless
		}
	}
	h.From = cleanName(name)
	if strings.Contains(name, " ") {
		h.From = name
	}
	// When the receiver wrote the greeting apart ("(HELO x)", "helo=x"),
	// the from word is its own name for the client.
	receiverNamed := heloSeen || s.exim
	switch rec.form {
	case formNamed:
		// Postfix, Sendmail, Gmail, Courier: greeting (name [ip]).
		h.HELO = h.From
		h.RDNS = rec.name
		h.rdnsVerified = !rec.dotted && !forged
		h.NoRDNS = strings.EqualFold(rec.name, "unknown")
	case formBracket, formBare:
		switch {
		case s.microsoft:
			h.HELO = h.From // Exchange: greeting (ip), greeting ([ip])
		case receiverNamed || rec.form == formBare && !rec.ident:
			// Exim "name ([ip] helo=x)": its verified reverse name. qmail
			// "name (HELO x) (ip)", "name (ip)": a reverse lookup it never
			// checks forward. Without a greeting apart, the greeting was
			// that name.
			if looksLikeHost(h.From) {
				h.RDNS, h.rdnsVerified = h.From, s.exim
			}
			h.HELO = h.From
		default:
			h.HELO = h.From // Sendmail and Exchange: greeting ([ip])
		}
	case formLiteral, formGreeting:
		// Smail, IMail, fetchmail: "greeting [ip]" — no reverse name; or
		// AltaVista's "name [ip] (HELO x)".
		h.HELO = h.From
		if heloSeen && looksLikeHost(h.From) && rec.form == formLiteral {
			h.RDNS = h.From
		}
	default:
		h.HELO = h.From
	}
	if heloSeen {
		h.HELO = helo
	}
	if isUnknown(h.RDNS) || isIPLiteral(h.RDNS) {
		h.RDNS, h.rdnsVerified = "", false
	}
}

// splitGreeting splits "name(inner)" and "name[inner]" (smap, JetMail,
// OS/400 write the client so, with no space); a word in parentheses
// ("(lee.example)", "([192.0.2.1])") is the name.
func splitGreeting(w string) (name, inner string) {
	w = strings.TrimRight(w, ",;")
	if strings.HasPrefix(w, "(") && strings.HasSuffix(w, ")") {
		return w[1 : len(w)-1], ""
	}
	w = strings.TrimPrefix(w, "(")
	if j := strings.IndexByte(w, '('); j > 0 && strings.HasSuffix(w, ")") {
		return w[:j], w[j+1 : len(w)-1]
	}
	if j := strings.IndexByte(w, '['); j > 0 && strings.HasSuffix(w, "]") {
		return strings.TrimRight(w[:j], "_"), w[j:]
	}
	return strings.TrimSuffix(w, ")"), ""
}

func stripPort(s string) string {
	// "1.2.3.4:25" or "1.2.3.4.25" (some MTAs) -> address
	if strings.Count(s, ":") == 1 && strings.Count(s, ".") == 3 {
		return s[:strings.IndexByte(s, ':')]
	}
	if strings.Count(s, ".") == 4 {
		return s[:strings.LastIndexByte(s, '.')]
	}
	return s
}

// setIP records s as the client address if it is one.
func (h *Hop) setIP(s string) bool {
	s = strings.TrimSpace(s)
	if len(s) > 5 && strings.EqualFold(s[:5], "ipv6:") {
		s = s[5:]
	}
	if i := strings.IndexByte(s, '%'); i > 0 {
		s = s[:i]
	}
	if s == "" || !unicode.IsDigit(rune(s[0])) && !isHex(s[0]) && s[0] != ':' {
		return false
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		if p := stripPort(s); p != s {
			if a, err = netip.ParseAddr(p); err != nil {
				return false
			}
		} else {
			return false
		}
	}
	if a.Is4() && strings.Count(s, ".") != 3 {
		return false
	}
	a = a.Unmap()
	h.addr = a
	h.IP = a.String()
	return true
}

func isHex(c byte) bool { return c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func cleanName(s string) string {
	s = strings.Trim(s, "()<>;,\"'")
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") && isIPLiteral(s) {
		return s // an address literal, as the client sent it
	}
	s = strings.Trim(s, "[]")
	s = strings.TrimSuffix(s, ".")
	return s
}

func isUnknown(s string) bool {
	l := strings.ToLower(s)
	return l == "unknown" || l == "" || strings.HasPrefix(l, "<unknown") || l == "softdnserr" || l == "unverified"
}

func isIPLiteral(s string) bool {
	_, err := netip.ParseAddr(strings.Trim(s, "[]"))
	return err == nil
}

func looksLikeHost(s string) bool {
	s = strings.TrimPrefix(s, "IDENT:")
	if s == "" || isUnknown(s) || strings.ContainsAny(s, "()=[]") {
		return false
	}
	return strings.Contains(s, ".") || strings.EqualFold(s, "localhost")
}

// receiverBy returns the offset of the receiver's own "by" in a normalised
// field value: the last top-level word "by", found from the right, where
// only the receiver writes (its name, protocol, id, "for <recipient>", the
// date). Parentheses and angle brackets are matched from the right, so the
// client's unbalanced text on the left cannot hide it. -1 when none.
func receiverBy(v string) int {
	depth, angle := 0, 0
	for j := len(v) - 1; j >= 1; j-- {
		switch c := v[j]; {
		case c == ')':
			depth++
		case c == '(' && depth > 0:
			depth--
		case c == '>':
			angle++
		case c == '<' && angle > 0:
			angle--
		case depth == 0 && angle == 0 && (c == 'b' || c == 'B') && j+1 < len(v) && (v[j+1] == 'y' || v[j+1] == 'Y') &&
			v[j-1] == ' ' && (j+2 == len(v) || v[j+2] == ' '):
			return j
		}
	}
	return -1
}

// openOf returns the offset of the "(" that the ")" ending s closes,
// matched from the right, or -1.
func openOf(s string) int {
	depth := 0
	for j := len(s) - 1; j >= 0; j-- {
		switch s[j] {
		case ')':
			depth++
		case '(':
			depth--
			if depth == 0 {
				return j
			}
		}
	}
	return -1
}

// receiverTrailer reports comments receivers write after their record of
// the client and before "by": Postfix's TLS and authentication notes,
// Sendmail's "(authenticated bits=0)".
func receiverTrailer(text string) bool {
	l := strings.ToLower(text)
	for _, p := range []string{"using ", "no client certificate", "client ", "authenticated", "auth: ", "envelope-from"} {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}

// clientRecord reports whether a comment is a receiver's record of the
// client in one of the shapes that end the from clause: "name [ip]",
// "name[ip]", "ident@name [ip]", Sendmail's "name [ip] (may be forged)"
// (Postfix, Sendmail, Gmail, Courier); "ip" or "[ip]" (Exchange, qmail).
func clientRecord(text string) bool {
	text = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(text), "(may be forged)"))
	f := strings.Fields(text)
	lit := func(w string) bool {
		j, ok := literalEnd(w, 0)
		return ok && j == len(w)
	}
	addr := func(w string) bool {
		var h Hop
		return h.setIP(w)
	}
	switch len(f) {
	case 1:
		w := f[0]
		if lit(w) || addr(w) {
			return true
		}
		if j := strings.IndexByte(w, '['); j > 0 && lit(w[j:]) {
			return true
		}
	case 2:
		return lit(f[1]) && !strings.ContainsAny(f[0], "()")
	}
	return false
}

// greetingEnd finds where the client's greeting ends in a field that
// begins "from": receivers write it verbatim, and Postfix joins every
// word of the client's HELO with spaces ("from a 10.0.0.1 (unknown
// [192.0.2.7]) by …"), so the greeting is everything between "from" and
// the receiver's own record of the client — the last comment before the
// receiver's "by" that has the shape of one, read from the right, past the
// receiver's TLS and authentication notes. It returns that end when the
// greeting holds more than one word (0 otherwise: the one-word greeting is
// taken whole by the scanner). ambiguous is set when the greeting has more
// than one word, no such record closes it, and a word of it would be read
// as a clause or it leaves a comment open: no reading of the field is then
// the receiver's alone.
func greetingEnd(v string) (end int, ambiguous bool) {
	if len(v) < 5 || !strings.EqualFold(v[:5], "from ") {
		return 0, false
	}
	by := receiverBy(v)
	if by < 5 {
		return 0, false
	}
	region := strings.TrimRight(v[5:by], " ")
	for strings.HasSuffix(region, ")") {
		o := openOf(region)
		if o < 0 {
			break
		}
		text := region[o+1 : len(region)-1]
		if receiverTrailer(text) {
			region = strings.TrimRight(region[:o], " ")
			continue
		}
		if !clientRecord(text) {
			break
		}
		greeting := strings.TrimRight(region[:o], " ")
		if greeting == "" || !strings.ContainsAny(greeting, " ") || qmailHELO(greeting) {
			return 0, false
		}
		return 5 + len(greeting), false
	}
	if !strings.Contains(region, " ") {
		return 0, false
	}
	depth := 0
	for _, w := range strings.Split(region, " ") {
		if lw := strings.ToLower(w); depth == 0 && (lw == "with" || lw == "by" || lw == "via" || lw == "id") {
			return 0, true
		}
		depth += strings.Count(w, "(") - strings.Count(w, ")")
	}
	return 0, depth > 0
}

// qmailHELO is qmail's "name (HELO greeting)", where qmail wrote the
// greeting apart (it writes no space or parenthesis of the client's).
func qmailHELO(s string) bool {
	name, rest, ok := strings.Cut(s, " ")
	if !ok || strings.ContainsAny(name, "()") || !strings.HasPrefix(rest, "(") || !strings.HasSuffix(rest, ")") {
		return false
	}
	inner := rest[1 : len(rest)-1]
	kw, g, ok := strings.Cut(inner, " ")
	return ok && (strings.EqualFold(kw, "HELO") || strings.EqualFold(kw, "EHLO")) && !strings.ContainsAny(g, " ()")
}
