package mailauth

import (
	"fmt"
	"net/netip"
	"path"
	"strings"

	"github.com/accord-antispam/accord/internal/dnsname"
	"github.com/accord-antispam/accord/internal/mail"
)

// AuthResultsHdr is one Authentication-Results field (RFC 8601).
type AuthResultsHdr struct {
	// AuthServID names the host that claims to have written the field; ""
	// for the form Microsoft writes, which has none.
	AuthServID string `json:"authserv_id"`
	// Trusted: added inside the trust boundary by one of its receivers;
	// only trusted fields are read. Why says why, or why it is ignored.
	Trusted bool   `json:"trusted"`
	Why     string `json:"why"`
	// Forged: an ignored field that claims a trusted receiver's name.
	Forged  bool         `json:"forged"`
	Results []AuthMethod `json:"results"`
}

// AuthMethod is one "method=result prop=value…" entry.
type AuthMethod struct {
	Method string `json:"method"`
	// Result is mapped to the RFC 8601 result names (MapResult); Raw keeps
	// what the field said when it differs ("bestguesspass", "timeout").
	Result Result            `json:"result"`
	Raw    string            `json:"raw,omitempty"`
	Props  map[string]string `json:"props"` // "smtp.mailfrom", "header.d", "reason"…
	// Comment holds the text of comments, where receivers put useful detail
	// (Gmail: "p=REJECT sp=REJECT dis=NONE"; Microsoft: "sender IP is …").
	Comment string `json:"comment,omitempty"`
}

// MapResult maps a result as written to the names of the RFC 8601 registry
// (pass, fail, softfail, neutral, none, temperror, permerror, policy).
// Extras seen in real fields: hardfail (RFC 5451's name) is fail;
// bestguesspass (Microsoft: no DMARC record, but it would have passed) is
// none, as the DMARC result for a domain without a record; timeout,
// tempfail and temperr are temperror; permfail and permerr are permerror;
// reject and quarantine (rspamd's DMARC result for a failure under that
// policy) are fail;
// softpass is neutral; Microsoft's compauth "other" is neutral. Anything
// else unknown is neutral: neither a pass nor a failure we could name.
func MapResult(raw string) Result {
	r := Result(strings.ToLower(strings.TrimSpace(raw)))
	switch r {
	case Pass, Fail, SoftFail, Neutral, None, TempError, PermError, Policy:
		return r
	case "":
		return None
	case "hardfail", "reject", "quarantine":
		return Fail
	case "bestguesspass":
		return None
	case "timeout", "tempfail", "temperr", "dnserror", "error":
		return TempError
	case "permfail", "permerr":
		return PermError
	}
	return Neutral
}

// ParseAuthResults parses a field value leniently: comments are kept apart,
// quoted strings kept, unknown methods kept. The Microsoft form, which
// starts with a result instead of an authserv-id, parses with an empty
// AuthServID. (go-msgauth's parser stops at comments and quoted values,
// which most real fields contain.)
//
// RFC 2047 words are decoded only when the receiver encoded the whole
// field (the value starts with one, as Exchange writes it): an encoded
// word further on sits in a value the receiver echoed from the sender (an
// envelope sender's local part may be "=?us-ascii?q?x=3B_dmarc=3Dpass?=",
// a valid atom), and decoding it would turn the sender's text into
// results.
//
// Quoted strings inside comments are kept whole, so a quoted local part
// with a parenthesis ("x(y"@example.org, echoed in a receiver's comment)
// does not open a comment that swallows the rest; when the field is not
// balanced read that way, it is read again without them. Parsing is linear
// in the length of the field.
func ParseAuthResults(v string) (AuthResultsHdr, bool) {
	if t := strings.TrimSpace(v); strings.HasPrefix(t, "=?") {
		if d, err := mail.DecodeHeader(t); err == nil {
			v = d
		}
	}
	quotesInComments := balanced(v, true)
	// Read neither way balanced: a quoted string or comment the sender
	// opened in an echoed value (an envelope sender "x\"@example.org)
	// ends at the next ";" instead of eating the receiver's results after
	// it.
	semiEnds := !quotesInComments && !balanced(v, false)
	parts := splitOutside(v, ';', quotesInComments, semiEnds)
	if len(parts) == 0 {
		return AuthResultsHdr{}, false
	}
	id := strings.Fields(stripComments(parts[0], quotesInComments))
	if len(id) == 0 {
		return AuthResultsHdr{}, false
	}
	out := AuthResultsHdr{}
	if strings.Contains(id[0], "=") {
		// No authserv-id: the first part is already a result.
		if _, _, ok := strings.Cut(id[0], "="); !ok {
			return AuthResultsHdr{}, false
		}
	} else {
		out.AuthServID = strings.ToLower(strings.TrimSuffix(id[0], "."))
		parts = parts[1:]
	}
	for _, p := range parts {
		comment := commentText(p, quotesInComments)
		f := fieldsOutsideQuotes(stripComments(p, quotesInComments))
		if len(f) == 0 {
			continue
		}
		m, r, ok := strings.Cut(f[0], "=")
		if !ok {
			continue // "none", or an authres-version
		}
		raw := strings.ToLower(strings.Trim(r, `"`))
		am := AuthMethod{Method: strings.ToLower(strings.TrimSpace(m)), Result: MapResult(raw), Comment: comment}
		if string(am.Result) != raw {
			am.Raw = raw
		}
		if i := strings.IndexByte(am.Method, '/'); i > 0 {
			am.Method = am.Method[:i] // method version, "dkim/1"
		}
		if am.Method == "" {
			continue
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
	if out.AuthServID == "" && len(out.Results) == 0 {
		return AuthResultsHdr{}, false
	}
	return out, true
}

func stripCommentsQuoted(s string) string { return stripComments(s, balanced(s, true)) }

// stripComments removes the comments of s, keeping quoted strings; with
// quotesInComments, a quoted string inside a comment is skipped whole.
func stripComments(s string, quotesInComments bool) string {
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
		case c == '"' && (depth == 0 || quotesInComments):
			inQ = !inQ
			if depth == 0 {
				b.WriteByte(c)
			}
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

// balanced reports whether every comment and quoted string of s closes
// when quoted strings are read inside comments too (quotesInComments), or
// only outside them.
func balanced(s string, quotesInComments bool) bool {
	depth, inQ := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			i++
		case c == '"' && (depth == 0 || quotesInComments):
			inQ = !inQ
		case c == '(' && !inQ:
			depth++
		case c == ')' && !inQ && depth > 0:
			depth--
		}
	}
	return depth == 0 && !inQ
}

// commentText returns the text inside the top-level comments of s.
func commentText(s string, quotesInComments bool) string {
	var b strings.Builder
	depth, inQ := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' && (depth == 0 || quotesInComments):
			inQ = !inQ
			if depth > 0 {
				b.WriteByte(c)
			}
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

// splitOutside splits on sep outside quoted strings and comments; with
// sepEnds, sep also ends any quoted string or comment left open.
func splitOutside(s string, sep byte, quotesInComments, sepEnds bool) []string {
	var out []string
	inQ, depth, start := false, 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			if depth == 0 || quotesInComments {
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
			if sepEnds {
				inQ, depth = false, 0
			}
			if !inQ && depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// fieldsOutsideQuotes splits s into words at white space outside quoted
// strings, joining "key = value" into "key=value". One pass: the word being
// built stays open across white space until the next character shows
// whether it continues ("=" or a value after "key=") or a new word starts.
func fieldsOutsideQuotes(s string) []string {
	var out []string
	cur := make([]byte, 0, 32)
	ended := false // white space followed cur
	flush := func() {
		if len(cur) > 0 {
			out = append(out, string(cur))
			cur = cur[:0]
		}
		ended = false
	}
	inQ := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case !inQ && (c == ' ' || c == '\t' || c == '\r' || c == '\n'):
			ended = len(cur) > 0
			continue
		case !inQ && c == '=':
			// "key = value": the "=" joins the previous word.
		case ended && cur[len(cur)-1] != '=':
			flush()
		}
		ended = false
		if c == '"' {
			inQ = !inQ
		}
		cur = append(cur, c)
	}
	flush()
	return out
}

// ARTrust says which Authentication-Results fields to believe.
type ARTrust struct {
	// Above is the header position above which every field was added
	// inside the trust boundary (after the handover from the origin): only
	// there could a trusted receiver have written a field.
	Above int
	// Own are positions below Above that the boundary's receiver wrote
	// itself: a provider that adds its Received-SPF and
	// Authentication-Results right below its own Received field (Gmail).
	Own []int
	// Receivers are the trusted receivers' own names (the boundary's "by"
	// hosts and the providers fetched from): an authserv-id matches one of
	// them, or its organizational domain.
	Receivers []string
	// IDs are the operator's names (--trusted): an authserv-id matches one
	// exactly, or a ".example.org" entry's subdomains.
	IDs []string
	// Patterns are the authserv-ids the known providers among the trusted
	// receivers write ("*" wildcards; "" for a provider that writes none).
	Patterns []string
	// Sealers are the ARC sealers (d=) whose results may be used when
	// their chain verifies: those the known providers name, and the
	// operator's.
	Sealers []string
	// OwnSealers are the ARC sealers (d=) of the known providers among the
	// boundary's receivers: a set sealed so, under a trusted authserv-id,
	// is the boundary's own, not a forwarder's.
	OwnSealers []string
	// OriginNames are the origin client's own names (its reverse name, as
	// the boundary host recorded and verified it): a field below the
	// boundary in that name's organization may be the origin's own, not a
	// forgery.
	OriginNames []string
	// UpstreamEdges are positions of Received fields below the boundary
	// whose receiver is an inbound server of a provider that writes its
	// Authentication-Results without an authserv-id: a field without one
	// directly above such a Received field is that upstream receiver's own
	// record (a message forwarded from another Microsoft 365 tenant).
	UpstreamEdges []int
}

func (t ARTrust) claims(id string) bool {
	for _, r := range t.Receivers {
		if id != "" && (strings.EqualFold(r, id) || dnsname.SameOrg(id, r)) {
			return true
		}
	}
	if t.operatorID(id) {
		return true
	}
	for _, p := range t.Patterns {
		if ok, _ := path.Match(p, id); ok {
			return true
		}
	}
	return false
}

// operatorID matches the operator's names as --trusted documents them: a
// name is that host, a ".example.org" entry its subdomains.
func (t ARTrust) operatorID(id string) bool {
	id = strings.ToLower(strings.TrimSuffix(id, "."))
	if id == "" {
		return false
	}
	for _, n := range t.IDs {
		n = strings.ToLower(n)
		if n == id || strings.HasPrefix(n, ".") && strings.HasSuffix(id, n) {
			return true
		}
	}
	return false
}

func (t ARTrust) fromOrigin(id string) bool {
	for _, n := range t.OriginNames {
		if dnsname.SameOrg(n, id) {
			return true
		}
	}
	return false
}

func (t ARTrust) inside(pos int) bool {
	if pos < t.Above {
		return true
	}
	for _, p := range t.Own {
		if p == pos {
			return true
		}
	}
	return false
}

// upstreamRecord reports whether the field at pos, below the boundary,
// sits directly above an upstream provider's inbound Received field.
func (t ARTrust) upstreamRecord(h mail.Header, pos int) bool {
	for i := pos + 1; i < len(h.Fields); i++ {
		if strings.EqualFold(h.Fields[i].Name, "Received") {
			for _, e := range t.UpstreamEdges {
				if e == i {
					return true
				}
			}
			return false
		}
	}
	return false
}

// readAuthResults parses every Authentication-Results field and believes
// those a trusted receiver could have written: above the boundary (or in
// the receiver's own place below its Received field) and under a trusted
// receiver's authserv-id. The others are kept, ignored; those that claim a
// trusted receiver's name from below the boundary are marked forged (a
// receiver adds its field on top, and RFC 8601 section 5 has it remove
// fields in its own name that arrive from outside). A field without
// authserv-id claims the form of a receiver that writes none (Microsoft
// 365) unless it is an upstream tenant's own record.
func readAuthResults(h mail.Header, t ARTrust) []AuthResultsHdr {
	var out []AuthResultsHdr
	for _, i := range h.Indexes("Authentication-Results") {
		ar, ok := ParseAuthResults(h.Fields[i].Value)
		if !ok {
			continue
		}
		above := t.inside(i)
		claims := t.claims(ar.AuthServID)
		name := ar.AuthServID
		if name == "" {
			name = "no authserv-id"
		}
		switch {
		case above && claims:
			ar.Trusted = true
			ar.Why = fmt.Sprintf("added inside the trust boundary by a trusted receiver (%s)", name)
		case above:
			ar.Why = fmt.Sprintf("untrusted, ignored: above the boundary, but %s is none of the trusted receivers", name)
		case claims && ar.AuthServID == "" && t.upstreamRecord(h, i):
			ar.Why = "untrusted, ignored: the record of an upstream receiver (no authserv-id, above its own inbound Received field), below the boundary"
		case claims && !t.fromOrigin(ar.AuthServID):
			ar.Forged = true
			ar.Why = fmt.Sprintf("untrusted, ignored: claims the trusted receiver's form (%s) but sits below the boundary, where only the sender's side could have written it", name)
		default:
			ar.Why = fmt.Sprintf("untrusted, ignored: written below the boundary (%s), before the message reached a trusted receiver", name)
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
		out := SPF{Result: m.Result, Source: SourceHeader, Identity: "mailfrom", IP: m.Props["smtp.remote-ip"]}
		if out.IP == "" {
			out.IP = commentIP(m.Comment)
		}
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
		if !in.AR.inside(i) {
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

// commentIP reads the client address receivers put in the SPF comment:
// Microsoft's "sender IP is 192.0.2.1", Gmail's "… designates 192.0.2.1 as
// permitted sender".
func commentIP(c string) string {
	f := strings.Fields(c)
	for i, w := range f {
		lw := strings.ToLower(w)
		if (lw == "is" && i > 0 && strings.EqualFold(f[i-1], "ip") || lw == "designates") && i+1 < len(f) {
			if a, err := netip.ParseAddr(strings.Trim(f[i+1], "[](),;")); err == nil {
				return a.Unmap().String()
			}
		}
	}
	return ""
}

func isSPFResult(s Result) bool {
	switch s {
	case Pass, Fail, SoftFail, Neutral, None, TempError, PermError:
		return true
	}
	return false
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
			sigs[i].Result, sigs[i].Source, sigs[i].Reason = m.Result, SourceHeader, m.Props["reason"]
			break
		}
	}
	// Signatures reported by trusted hosts but stripped from the message
	// still say something about the sender.
	for _, m := range ms {
		d := strings.ToLower(m.Props["header.d"])
		if d == "" || d == "none" || m.Result == None {
			continue // "dkim=none (message not signed) header.d=none"
		}
		found := false
		for _, s := range sigs {
			if s.Domain == d {
				found = true
			}
		}
		if !found {
			sigs = append(sigs, DKIMSignature{Domain: d, Selector: m.Props["header.s"], Result: m.Result, Source: SourceHeader, Reason: "reported by a trusted host; signature not in the message"})
		}
	}
	return sigs
}

// dmarcFromHeaders reads the DMARC result a trusted receiver wrote for the
// From domain. A result must name that domain (header.from): receivers
// always write it, and one without it may be text the receiver echoed from
// the sender. When trusted results for the domain disagree, the field
// holds more than the receiver's own verdict: the one that did not pass
// is taken.
func dmarcFromHeaders(hs []AuthResultsHdr, from string) DMARC {
	out := DMARC{Result: None, Domain: from, OrgDomain: dnsname.OrgDomain(from), Source: SourceNone, Reason: "offline: no trusted Authentication-Results"}
	var ms []AuthMethod
	for _, m := range trustedMethods(hs, "dmarc") {
		if d := strings.ToLower(strings.TrimSuffix(m.Props["header.from"], ".")); from == "" || d != "" && dnsname.Equal(d, from) {
			ms = append(ms, m)
		}
	}
	conflict := ""
	for k, m := range ms {
		if m.Result == Pass {
			continue
		}
		if k > 0 {
			// The first result that did not pass goes first.
			conflict = "the trusted results for this domain disagree (" + string(ms[0].Result) + ", " + string(m.Result) + "): the one that did not pass is taken"
			ms[0], ms[k] = ms[k], ms[0]
		}
		break
	}
	for _, m := range ms {
		out.Result, out.Source, out.Reason = m.Result, SourceHeader, m.Props["reason"]
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
		if conflict != "" && !strings.HasPrefix(out.Reason, conflict) {
			out.Reason = strings.TrimSuffix(conflict+"; "+out.Reason, "; ")
		}
		break
	}
	return out
}
