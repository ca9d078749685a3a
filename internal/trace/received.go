package trace

import (
	"net/netip"
	"strings"
	"time"

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
	Flags    []Flag `json:"flags"`
	Raw      string `json:"raw"`

	addr   netip.Addr
	byAddr netip.Addr
	forged bool // the receiving host said "may be forged" about rdns
	// rdnsUnverified: the reverse name comes from a receiver that does not
	// check it forward (qmail's "name (ip)").
	rdnsUnverified bool
}

// Addr returns the client address, if the hop has one.
func (h *Hop) Addr() (netip.Addr, bool) { return h.addr, h.addr.IsValid() }

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

type token struct {
	kind byte // 'w' word, 'c' comment (text without the parens), 'b' [literal]
	text string
}

// tokenize splits a Received value into words, (comments) and [literals].
// Comments may nest; unbalanced ones run to the end.
func tokenize(s string) []token {
	var out []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			i++
		case c == '(':
			depth := 0
			j := i
			for ; j < len(s); j++ {
				if s[j] == '(' {
					depth++
				} else if s[j] == ')' {
					depth--
					if depth == 0 {
						break
					}
				}
			}
			end := j
			if end >= len(s) {
				end = len(s)
			}
			out = append(out, token{'c', strings.TrimSpace(s[i+1 : end])})
			i = end + 1
		case c == '[':
			j := strings.IndexByte(s[i:], ']')
			if j < 0 {
				out = append(out, token{'w', s[i:]})
				return out
			}
			// "[1.2.3.4]:port" stays one literal; the port is dropped.
			lit := s[i : i+j+1]
			k := i + j + 1
			for k < len(s) && s[k] != ' ' && s[k] != '(' && s[k] != ';' {
				k++
			}
			out = append(out, token{'b', lit})
			i = k
		default:
			j := i
			for j < len(s) && s[j] != ' ' && s[j] != '\t' && s[j] != '(' && s[j] != '\n' && s[j] != '\r' {
				j++
			}
			// A word may carry an attached "[ip]" (Postfix "unknown[1.2.3.4]").
			out = append(out, token{'w', s[i:j]})
			i = j
		}
	}
	return out
}

var clauseWords = map[string]bool{"from": true, "by": true, "via": true, "with": true, "id": true, "for": true}

// ParseReceived parses one Received field value. It never fails: what it
// cannot read is kept in Raw with Kind "unparsed" or "local".
func ParseReceived(value string) Hop {
	v := strings.Join(strings.Fields(value), " ")
	h := Hop{Raw: v}
	body := v
	// The date follows the last ";" outside comments.
	if i := lastTopLevel(v, ';'); i >= 0 {
		body = strings.TrimSpace(v[:i])
		if t, err := mail.ParseDate(strings.TrimSpace(v[i+1:])); err == nil {
			h.Time = &t
		}
	}
	body = strings.TrimRight(body, "; ")
	clauses := map[string][]token{}
	var order []string
	cur := ""
	for _, t := range tokenize(body) {
		if t.kind == 'w' {
			lw := strings.ToLower(t.text)
			if clauseWords[lw] && (lw != "for" || cur != "from") && len(clauses[lw]) == 0 {
				if _, seen := clauses[lw]; !seen {
					cur = lw
					clauses[cur] = []token{}
					order = append(order, cur)
					continue
				}
			}
		}
		clauses[cur] = append(clauses[cur], t)
	}
	h.readBy(clauses["by"])
	h.readWith(clauses["with"], clauses["via"])
	if ids := clauses["id"]; len(ids) > 0 {
		h.ID = strings.Trim(ids[0].text, "<>;")
	}
	if f := clauses["for"]; len(f) > 0 {
		h.For = strings.Trim(f[0].text, "<>;")
	}
	from, hasFrom := clauses["from"]
	h.detectAuth(v)
	switch {
	case !hasFrom:
		h.Kind = KindLocal
		return h
	case h.isFetch():
		h.Kind = KindFetch
		h.readFrom(from)
		return h
	}
	h.readFrom(from)
	lf := strings.ToLower(h.From)
	switch {
	case h.isLocalProtocol():
		h.Kind = KindLocal
	case h.addr.IsValid():
		h.Kind = KindRelay
	case strings.Contains(h.From, "@") || h.From == "" || strings.HasPrefix(lf, "localhost") || strings.Contains(strings.ToLower(v), "from userid") ||
		strings.Contains(strings.ToLower(v), "pickup service") || strings.Contains(strings.ToLower(v), " with spool"):
		h.Kind = KindLocal
	default:
		h.Kind = KindUnparsed
	}
	if h.Kind == KindLocal {
		h.HELO, h.RDNS = "", ""
	}
	return h
}

func lastTopLevel(s string, c byte) int {
	depth := 0
	last := -1
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			if depth > 0 {
				depth--
			}
		case c:
			if depth == 0 {
				last = i
			}
		}
	}
	return last
}

func (h *Hop) readBy(ts []token) {
	for i, t := range ts {
		if t.kind == 'w' || t.kind == 'b' {
			h.By = cleanName(t.text)
			if a, err := netip.ParseAddr(strings.Trim(h.By, "[]")); err == nil {
				h.setByIP(a)
			} else if i+1 < len(ts) && ts[i+1].kind == 'c' {
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
		if t.kind == 'w' {
			h.Protocol = strings.TrimRight(t.text, ";")
			if i := strings.IndexByte(h.Protocol, '('); i > 0 {
				h.Protocol = h.Protocol[:i]
			}
			break
		}
	}
	if h.Protocol == "" {
		for _, t := range via {
			if t.kind == 'w' {
				h.Protocol = strings.TrimRight(t.text, ";")
				break
			}
		}
	}
	// "with Microsoft SMTPSVC(…)" and "with Microsoft SMTP Server".
	if strings.EqualFold(h.Protocol, "Microsoft") && len(with) > 1 && with[1].kind == 'w' {
		h.Protocol = "Microsoft " + strings.SplitN(with[1].text, "(", 2)[0]
	}
}

// detectAuth recognises authenticated submission: RFC 3848 protocol names
// (ESMTPA, ESMTPSA, LMTPA…) and the comments MTAs write.
func (h *Hop) detectAuth(v string) {
	p := strings.ToUpper(h.Protocol)
	switch p {
	case "ESMTPA", "ESMTPSA", "LMTPA", "LMTPSA", "UTF8SMTPA", "UTF8SMTPSA", "ASMTP":
		h.Auth = p
		return
	case "HTTP", "HTTPS", "HTTPU":
		// Webmail: the user logged in to write the message.
		h.Auth = "webmail"
		return
	}
	l := strings.ToLower(v)
	switch {
	case strings.Contains(l, "(authenticated sender:"):
		h.Auth = "authenticated-sender"
	case strings.Contains(l, "(authenticated bits=") || strings.Contains(l, "(authenticated as ") || strings.Contains(l, " (authenticated)"):
		h.Auth = "authenticated"
	case strings.Contains(l, " authenticated user "):
		h.Auth = "webmail"
	case strings.Contains(l, "(auth: "):
		h.Auth = "auth"
	}
}

func (h *Hop) isFetch() bool {
	p := strings.ToUpper(h.Protocol)
	if p == "POP3" || p == "IMAP" || p == "POP" || p == "IMAP4" {
		return true
	}
	l := strings.ToLower(h.Raw)
	return strings.Contains(l, "(fetchmail") || strings.Contains(l, "getmail")
}

func (h *Hop) isLocalProtocol() bool {
	p := strings.ToLower(h.Protocol)
	// HTTPREST: a submission through an API (Gmail's), named by the
	// client's project number, with no address to trace.
	return p == "local" || strings.HasPrefix(p, "local-") || p == "bsmtp" || p == "uucp" || p == "stdin" || p == "httprest"
}

// readFrom interprets the from clause: the claimed name, then comments and
// literals holding the reverse name, address, HELO and ident as the MTAs
// of the world write them (Sendmail and Postfix "helo (rdns [ip])", Exim
// "rdns ([ip] helo=x)", qmail "rdns (HELO x) (ident@ip)", Exchange
// "helo ([ip])", Gmail "helo (rdns. [ip])"…).
func (h *Hop) readFrom(ts []token) {
	if len(ts) == 0 {
		return
	}
	first := ts[0]
	rest := ts[1:]
	name := ""
	// An address in the first position is only a fallback: Sendmail and
	// Postfix write the HELO there ("from [192.168.1.2] (rdns [ip])"), and
	// the connecting address, when given, is in the comment.
	var nameIP string
	switch first.kind {
	case 'w':
		name = first.text
		// "from unknown[1.2.3.4]": the address attached to the name.
		if i := strings.IndexByte(name, '['); i > 0 && strings.HasSuffix(name, "]") {
			h.setIP(name[i+1 : len(name)-1])
			name = name[:i]
		} else if isIPLiteral(name) {
			nameIP = name
		}
	case 'b':
		nameIP = strings.Trim(first.text, "[]")
		name = first.text
	case 'c':
		rest = ts // "from (rdns [ip])" without a name
	}
	defer func() {
		if !h.addr.IsValid() && nameIP != "" {
			h.setIP(nameIP)
		}
	}()
	h.From = cleanName(name)
	heloSeen := false
	rdnsSeen := false
	bareIP := false
	bracketOnly := false
	for _, t := range rest {
		switch t.kind {
		case 'b':
			if !h.addr.IsValid() {
				h.setIP(strings.Trim(t.text, "[]"))
				if name != "" && !rdnsSeen {
					// Exim "rdns [ip]" outside a comment.
					h.RDNS = h.From
					rdnsSeen = true
				}
			}
		case 'c':
			had := h.addr.IsValid()
			c := h.readFromComment(t.text)
			heloSeen = heloSeen || c.helo
			rdnsSeen = rdnsSeen || c.rdns
			bareIP = bareIP || c.bare
			if !had && h.addr.IsValid() && !c.rdns && !c.bare {
				bracketOnly = true // "name ([ip])"
			}
		}
	}
	switch {
	case !heloSeen && (bareIP && !strings.Contains(h.Raw, "Microsoft SMTP Server") || bracketOnly && strings.Contains(h.Raw, "(Exim ")) && looksLikeHost(h.From):
		// qmail "rdns (ip)" and Exim "rdns ([ip])": HELO was the reverse name.
		h.RDNS = h.From
		h.HELO = h.From
		h.rdnsUnverified = bareIP
	case heloSeen && strings.HasPrefix(name, "["):
		// Exim "[ip] (helo=x)": no reverse name.
	case heloSeen:
		// Exim and qmail put the reverse name first and HELO in a comment.
		if h.RDNS == "" && !isUnknown(h.From) && !isIPLiteral(h.From) {
			h.RDNS = h.From
		}
	case h.HELO == "":
		// Sendmail, Postfix, Exchange: the first name is the HELO.
		h.HELO = h.From
	}
	if isUnknown(h.RDNS) || isIPLiteral(h.RDNS) {
		h.RDNS = ""
	}
}

type commentInfo struct{ helo, rdns, bare bool }

func (h *Hop) readFromComment(c string) commentInfo {
	var info commentInfo
	l := strings.ToLower(c)
	if strings.Contains(l, "may be forged") {
		h.forged = true
	}
	f := strings.Fields(c)
	for i := 0; i < len(f); i++ {
		w := f[i]
		lw := strings.ToLower(w)
		switch {
		case (lw == "helo" || lw == "ehlo") && i+1 < len(f):
			h.HELO = cleanName(strings.TrimRight(f[i+1], ",)"))
			info.helo = true
			i++
		case lw == "helo" || lw == "ehlo":
			info.helo = true // "(HELO )": an empty HELO
		case strings.HasPrefix(lw, "helo="):
			h.HELO = cleanName(w[5:])
			info.helo = true
		case strings.HasPrefix(w, "["):
			lit := w
			if j := strings.IndexByte(lit, ']'); j >= 0 {
				lit = lit[:j+1]
			}
			if !h.addr.IsValid() && h.setIP(strings.Trim(lit, "[]")) && i > 0 && !info.rdns {
				prev := f[i-1]
				if j := strings.LastIndexByte(prev, '@'); j >= 0 {
					prev = prev[j+1:]
				}
				if looksLikeHost(prev) {
					h.RDNS = cleanName(strings.TrimPrefix(prev, "IDENT:"))
					info.rdns = true
				}
				if isUnknown(prev) {
					info.rdns = true
				}
			}
		default:
			// "rdns[ip]", "ident@ip", "ident@[ip]", a bare IP, "ip:port".
			cand := strings.TrimRight(w, ",;)")
			if j := strings.IndexByte(cand, '['); j > 0 && strings.HasSuffix(cand, "]") {
				if !h.addr.IsValid() && h.setIP(cand[j+1:len(cand)-1]) {
					pre := cand[:j]
					if k := strings.LastIndexByte(pre, '@'); k >= 0 {
						pre = pre[k+1:]
					}
					if looksLikeHost(pre) {
						h.RDNS = cleanName(pre)
					}
					info.rdns = true
				}
				continue
			}
			if k := strings.LastIndexByte(cand, '@'); k >= 0 {
				cand = strings.Trim(cand[k+1:], "[]")
			}
			if !h.addr.IsValid() && h.setIP(stripPort(cand)) {
				info.bare = true // qmail's "(ip)" and "(ident@ip)"
			}
		}
	}
	return info
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
	if s == "" || isUnknown(s) || strings.ContainsAny(s, "()=") {
		return false
	}
	return strings.Contains(s, ".") || strings.EqualFold(s, "localhost")
}
