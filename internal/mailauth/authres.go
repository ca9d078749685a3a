package mailauth

import (
	"strings"

	"github.com/accord-antispam/accord/internal/dnsname"
	"github.com/accord-antispam/accord/internal/mail"
)

// AuthResultsHdr is one Authentication-Results field (RFC 8601).
type AuthResultsHdr struct {
	AuthServID string       `json:"authserv_id"`
	Trusted    bool         `json:"trusted"` // Added by a host inside the trust boundary.
	Results    []AuthMethod `json:"results"`
}

// AuthMethod is one "method=result prop=value…" entry.
type AuthMethod struct {
	Method string            `json:"method"`
	Result string            `json:"result"`
	Props  map[string]string `json:"props,omitempty"` // "smtp.mailfrom", "header.d", "reason"…
	// Comment holds the text of comments, where receivers put useful detail
	// (Gmail: "p=REJECT sp=REJECT dis=NONE").
	Comment string `json:"comment,omitempty"`
}

// ParseAuthResults parses a field value leniently: comments are dropped,
// quoted strings kept, unknown methods kept. (go-msgauth's parser stops at
// comments and quoted values, which most real fields contain.)
func ParseAuthResults(v string) (AuthResultsHdr, bool) {
	parts := splitOutsideQuotes(v, ';')
	if len(parts) == 0 {
		return AuthResultsHdr{}, false
	}
	id := strings.Fields(stripCommentsQuoted(parts[0]))
	if len(id) == 0 {
		return AuthResultsHdr{}, false
	}
	out := AuthResultsHdr{AuthServID: strings.ToLower(id[0])}
	for _, p := range parts[1:] {
		comment := commentText(p)
		f := fieldsOutsideQuotes(stripCommentsQuoted(p))
		if len(f) == 0 {
			continue
		}
		m, r, ok := strings.Cut(f[0], "=")
		if !ok {
			if strings.EqualFold(f[0], "none") {
				continue
			}
			continue
		}
		am := AuthMethod{Method: strings.ToLower(strings.TrimSpace(m)), Result: strings.ToLower(strings.Trim(r, `"`)), Comment: comment}
		if i := strings.IndexByte(am.Method, '/'); i > 0 {
			am.Method = am.Method[:i] // method version, "dkim/1"
		}
		for _, kv := range f[1:] {
			k, val, ok := strings.Cut(kv, "=")
			if !ok {
				continue
			}
			if am.Props == nil {
				am.Props = map[string]string{}
			}
			am.Props[strings.ToLower(k)] = strings.Trim(val, `"`)
		}
		out.Results = append(out.Results, am)
	}
	return out, true
}

func stripCommentsQuoted(s string) string {
	var b strings.Builder
	depth, inQ := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && (inQ || depth > 0):
			if depth == 0 {
				b.WriteByte(c)
				b.WriteByte(s[i+1])
			}
			i++
		case c == '"' && depth == 0:
			inQ = !inQ
			b.WriteByte(c)
		case c == '(' && !inQ:
			depth++
		case c == ')' && !inQ && depth > 0:
			depth--
			b.WriteByte(' ')
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// commentText returns the text inside the top-level comments of s.
func commentText(s string) string {
	var b strings.Builder
	depth, inQ := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' && depth == 0:
			inQ = !inQ
		case c == '(' && !inQ:
			if depth > 0 {
				b.WriteByte(c)
			} else if b.Len() > 0 {
				b.WriteByte(' ')
			}
			depth++
		case c == ')' && !inQ && depth > 0:
			depth--
			if depth > 0 {
				b.WriteByte(c)
			}
		case depth > 0:
			b.WriteByte(c)
		}
	}
	return strings.TrimSpace(b.String())
}

// splitOutsideQuotes splits on sep outside quoted strings and comments.
func splitOutsideQuotes(s string, sep byte) []string {
	var out []string
	inQ, depth, start := false, 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			if depth == 0 {
				inQ = !inQ
			}
		case '(':
			if !inQ {
				depth++
			}
		case ')':
			if !inQ && depth > 0 {
				depth--
			}
		case sep:
			if !inQ && depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func fieldsOutsideQuotes(s string) []string {
	var out []string
	var cur strings.Builder
	inQ := false
	flush := func() {
		if cur.Len() > 0 {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			inQ = !inQ
			cur.WriteByte(c)
		case !inQ && (c == ' ' || c == '\t' || c == '\r' || c == '\n'):
			flush()
		case !inQ && c == '=' && cur.Len() == 0 && len(out) > 0:
			// "key = value": join with the previous word.
			out[len(out)-1] += "="
		default:
			if cur.Len() == 0 && len(out) > 0 && strings.HasSuffix(out[len(out)-1], "=") {
				cur.WriteString(out[len(out)-1])
				out = out[:len(out)-1]
			}
			cur.WriteByte(c)
		}
	}
	flush()
	return out
}

// readAuthResults parses every Authentication-Results field and marks those
// added by trusted hosts: everything above position trustedAbove in the
// header, plus fields whose authserv-id the operator trusts.
func readAuthResults(h mail.Header, trustedIDs []string, trustedAbove int) []AuthResultsHdr {
	var out []AuthResultsHdr
	for _, i := range h.Indexes("Authentication-Results") {
		ar, ok := ParseAuthResults(h.Fields[i].Value)
		if !ok {
			continue
		}
		ar.Trusted = i < trustedAbove
		for _, id := range trustedIDs {
			if strings.EqualFold(id, ar.AuthServID) {
				ar.Trusted = true
			}
		}
		out = append(out, ar)
	}
	return out
}

// trustedMethod returns the first result for method in a trusted field.
func trustedMethods(hs []AuthResultsHdr, method string) []AuthMethod {
	var out []AuthMethod
	for _, h := range hs {
		if !h.Trusted {
			continue
		}
		for _, r := range h.Results {
			if r.Method == method {
				out = append(out, r)
			}
		}
	}
	return out
}

func spfFromHeaders(hs []AuthResultsHdr, h mail.Header, in Input) SPF {
	if ms := trustedMethods(hs, "spf"); len(ms) > 0 {
		m := ms[0]
		out := SPF{Result: normResult(m.Result), Source: SourceHeader, Identity: "mailfrom", IP: m.Props["smtp.remote-ip"]}
		if d := m.Props["smtp.mailfrom"]; d != "" {
			out.Domain = domainOrSelf(d)
		} else if d := m.Props["smtp.helo"]; d != "" {
			out.Identity, out.Domain = "helo", d
		}
		return out
	}
	// Received-SPF (RFC 7208 9.1) from a trusted host: the field's position
	// is known only for the whole header; trust it if Authentication-Results
	// positioning trusts something, i.e. it sits above the boundary.
	for _, i := range h.Indexes("Received-SPF") {
		if i >= in.TrustedAbove {
			continue
		}
		v := strings.TrimSpace(h.Fields[i].Value)
		res := Result(strings.ToLower(strings.Fields(v + " x")[0]))
		if isSPFResult(res) {
			out := SPF{Result: res, Source: SourceHeader, Identity: "mailfrom"}
			tags := parseTags(strings.ReplaceAll(stripCommentsQuoted(v), " ", ";"))
			out.Domain = domainOrSelf(tags["envelope-from"])
			out.IP = tags["client-ip"]
			return out
		}
	}
	return SPF{Result: None, Source: SourceNone, Reason: "offline: no trusted Authentication-Results"}
}

func isSPFResult(s Result) bool {
	switch s {
	case Pass, Fail, SoftFail, Neutral, None, TempError, PermError:
		return true
	}
	return false
}

func normResult(r string) Result {
	switch r {
	case "hardfail":
		return Fail
	case "":
		return None
	}
	return Result(r)
}

func domainOrSelf(s string) string {
	if d := mail.DomainOf(s); d != "" {
		return d
	}
	return strings.ToLower(strings.Trim(s, "<>"))
}

func dkimFromHeaders(hs []AuthResultsHdr, sigs []DKIMSignature) []DKIMSignature {
	ms := trustedMethods(hs, "dkim")
	for i := range sigs {
		sigs[i].Result, sigs[i].Source = None, SourceNone
		sigs[i].Reason = "offline: no trusted Authentication-Results for this signature"
		for _, m := range ms {
			d := strings.ToLower(m.Props["header.d"])
			if d == "" {
				d = domainOrSelf(m.Props["header.i"])
			}
			if d != sigs[i].Domain {
				continue
			}
			if s := m.Props["header.s"]; s != "" && !strings.EqualFold(s, sigs[i].Selector) {
				continue
			}
			sigs[i].Result, sigs[i].Source, sigs[i].Reason = normResult(m.Result), SourceHeader, m.Props["reason"]
			break
		}
	}
	// Signatures reported by trusted hosts but stripped from the message
	// still say something about the sender.
	for _, m := range ms {
		d := strings.ToLower(m.Props["header.d"])
		if d == "" {
			continue
		}
		found := false
		for _, s := range sigs {
			if s.Domain == d {
				found = true
			}
		}
		if !found {
			sigs = append(sigs, DKIMSignature{Domain: d, Selector: m.Props["header.s"], Result: normResult(m.Result), Source: SourceHeader, Reason: "reported by a trusted host; signature not in the message"})
		}
	}
	return sigs
}

func dmarcFromHeaders(hs []AuthResultsHdr, from string) DMARC {
	out := DMARC{Result: None, Domain: from, OrgDomain: dnsname.OrgDomain(from), Source: SourceNone, Reason: "offline: no trusted Authentication-Results"}
	for _, m := range trustedMethods(hs, "dmarc") {
		if d := strings.ToLower(m.Props["header.from"]); d != "" && from != "" && d != from {
			continue
		}
		out.Result, out.Source, out.Reason = normResult(m.Result), SourceHeader, m.Props["reason"]
		out.Policy = m.Props["policy.published-domain-policy"]
		out.SubdomainPolicy = m.Props["policy.published-subdomain-policy"]
		// Gmail and others put the policy in a comment: "(p=REJECT sp=NONE dis=NONE)".
		ct := parseTags(strings.ReplaceAll(m.Comment, " ", ";"))
		if out.Policy == "" {
			out.Policy = strings.ToLower(ct["p"])
		}
		if out.SubdomainPolicy == "" {
			out.SubdomainPolicy = strings.ToLower(ct["sp"])
		}
		if p := m.Props["policy.applied-disposition"]; p != "" {
			out.Applied = p
		}
		if out.Applied == "" {
			out.Applied = out.Policy
		}
		break
	}
	return out
}
