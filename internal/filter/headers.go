package filter

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/dnsname"
	"github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/mailauth"
	"github.com/accord-antispam/accord/internal/ownmail"
)

// Header is a field to add to the delivered message.
type Header struct {
	Name, Value string
}

// RemoveHeaders are the fields the filter removes from incoming mail
// before adding its own: a sender must not be able to forge the filter's
// verdict. Authentication-Results is removed only when it carries our
// authserv-id (RFC 8601 §5).
// The release mark (ReleaseField) and the own-mail mark (ownmail.Field)
// are removed too, valid or not: they have done their work once Check
// has seen them.
//
// The verdict fields of SpamAssassin and rspamd the node never writes
// (X-Spam-Level, X-Spam-Checker-Version, X-Spam-Bar, X-Spamd-Result,
// X-Rspamd-Action, …) are removed too, by their prefixes (Forged): rules
// migrated from those filters (Sieve, procmail testing X-Spam-Level's
// stars) read them as the filter's verdict, and a sender's came through.
// The names listed here are those a door that can only name fields
// (rspamd's remove_headers) removes whether or not the message has them;
// ForgedIn adds those the message has.
var RemoveHeaders = []string{"X-Spam-Flag", "X-Spam-Status", "X-Spam-Score", "X-Spam", "X-Spam-Report", "X-Accord-Filter", "X-Accord-Reference", "X-Accord-Status", ReleaseField, ownmail.Field,
	"X-Spam-Level", "X-Spam-Checker-Version", "X-Spam-Bar", "X-Spamd-Result", "X-Spamd-Bar", "X-Rspamd-Action", "X-Rspamd-Score", "X-Rspamd-Server", "X-Rspamd-Queue-Id"}

// forgedPrefixes are the name prefixes of other filters' verdict fields:
// every field under them is removed (see RemoveHeaders).
var forgedPrefixes = []string{"x-spam-", "x-spamd-", "x-rspamd-"}

// Forged reports whether a field of this name is removed from incoming
// mail before the filter adds its own: one of RemoveHeaders, or any
// X-Spam-*, X-Spamd-* or X-Rspamd-* field. (Authentication-Results is
// decided by its value: OwnAuthResults.)
func Forged(name string) bool {
	name = strings.TrimSpace(name)
	for _, r := range RemoveHeaders {
		if strings.EqualFold(name, r) {
			return true
		}
	}
	l := strings.ToLower(name)
	for _, p := range forgedPrefixes {
		if strings.HasPrefix(l, p) {
			return true
		}
	}
	return false
}

// ForgedIn names the fields of a decided message that Forged removes
// and RemoveHeaders does not list, each once, as the message spells
// them: what rspamd's remove_headers must name besides RemoveHeaders.
func (s *Service) ForgedIn(d *Decision) []string {
	m := d.msg
	if m == nil {
		m = mail.ParseBytes(headerOf(d.raw), mail.DefaultLimits())
	}
	var out []string
	for _, f := range m.Header.Fields {
		if !Forged(f.Name) || slices.ContainsFunc(RemoveHeaders, func(r string) bool { return strings.EqualFold(r, f.Name) }) ||
			slices.ContainsFunc(out, func(o string) bool { return strings.EqualFold(o, f.Name) }) {
			continue
		}
		out = append(out, f.Name)
	}
	return out
}

// OwnAuthResults reports whether an Authentication-Results value claims to
// come from us, in any form RFC 8601 allows for the authserv-id (comments
// and folding before it, a quoted string, a trailing dot, any case) or an
// encoded word a reader might decode: the same reading the engine uses
// (mailauth.ParseAuthResults), and a lenient one besides, so no reader
// downstream takes a sender's field for ours.
func (s *Service) OwnAuthResults(value string) bool {
	own := normID(s.cfg.AuthServID)
	if ar, ok := mailauth.ParseAuthResults(value); ok && ar.AuthServID != "" && normID(ar.AuthServID) == own {
		return true
	}
	v := value
	if strings.Contains(v, "=?") {
		if d, err := mail.DecodeHeader(v); err == nil {
			v = d
		}
	}
	v = strings.ReplaceAll(dropComments(v), `"`, "")
	v = strings.TrimSpace(v)
	if i := strings.IndexAny(v, "; \t\r\n"); i >= 0 {
		v = v[:i]
	}
	return normID(v) == own
}

func normID(id string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(id), "."))
}

// dropComments removes RFC 5322 comments (nested parentheses, with
// quoted-pairs) from v.
func dropComments(v string) string {
	var b strings.Builder
	depth := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '\\' && depth > 0:
			i++
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// OwnAuthResultsAt returns the 1-based positions, among the message's
// Authentication-Results fields, of those that claim our authserv-id,
// and how many such fields there are: what a door that can only ask the
// MTA to remove fields (rspamd's milter.remove_headers) needs.
func (s *Service) OwnAuthResultsAt(raw []byte) (own []int, total int) {
	return s.ownAuthResults(mail.ParseBytes(headerOf(raw), mail.DefaultLimits()))
}

// OwnAuthResultsIn is OwnAuthResultsAt for a decided message: it reads
// the header Check parsed rather than parsing it again.
func (s *Service) OwnAuthResultsIn(d *Decision) (own []int, total int) {
	if d.msg == nil {
		return s.OwnAuthResultsAt(d.raw)
	}
	return s.ownAuthResults(d.msg)
}

func (s *Service) ownAuthResults(m *mail.Message) (own []int, total int) {
	for i, at := range m.Header.Indexes("Authentication-Results") {
		if s.OwnAuthResults(m.Header.Fields[at].Value) {
			own = append(own, i+1)
		}
		total++
	}
	return own, total
}

// headerOf is raw up to and including the blank line that ends its
// header (all of raw when there is none).
func headerOf(raw []byte) []byte {
	for i := 0; i < len(raw); {
		j := bytes.IndexByte(raw[i:], '\n')
		if j < 0 {
			return raw
		}
		line := raw[i : i+j+1]
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			return raw[:i+j+1]
		}
		i += j + 1
	}
	return raw
}

// Headers are the fields a delivered copy gets, for a decision whose
// delivered recipients' strongest tag is outcome. Restricted symbols
// (TLP:AMBER and above) are summed into one anonymous entry: their names,
// values and sources never leave the provider in a header.
func (s *Service) Headers(d *Decision, outcome string) []Header {
	if d.Released != nil {
		return []Header{{"X-Accord-Filter", "released: " + d.Released.ID + " (from the quarantine, for its recipient; not scanned again); ref=" + d.Reference}}
	}
	if d.OwnMail != "" {
		return []Header{{"X-Accord-Filter", "own-mail: " + d.OwnMail + " (the node's own mail, proved by its mark; not scanned); ref=" + d.Reference}}
	}
	if (d.Skipped == SkippedTimeout || d.Skipped == SkippedBusy) && d.decisive() {
		// What was found before the time ran out, or without a scan
		// slot, decided: the verdict's headers, and a word that the scan
		// was cut short or not done.
		d2 := *d
		d2.Skipped = ""
		return append(s.Headers(&d2, outcome), Header{"X-Accord-Filter", "partial: " + d.Skipped + "; ref=" + d.Reference})
	}
	if d.Skipped != "" {
		h := []Header{{"X-Accord-Filter", "skipped: " + d.Skipped + "; ref=" + d.Reference}}
		return h
	}
	if outcome == OutcomeOff {
		return nil
	}
	// X-Spam-Status and X-Spam-Flag keep SpamAssassin's value space
	// (Yes/No), which Sieve and procmail rules test; Accord's own band —
	// ham, unsure, spam — is in X-Accord-Status.
	flag, status, band := "NO", "No", "ham"
	switch outcome {
	case OutcomeSpam, OutcomeQuarantine, OutcomeReject:
		flag, status, band = "YES", "Yes", "spam"
	case OutcomeUnsure:
		band = "unsure"
	}
	var tests []string
	restricted := 0.0
	for _, sy := range d.AllSymbols() {
		if sy.Restricted {
			restricted += sy.Score
			continue
		}
		tests = append(tests, fmt.Sprintf("%s=%.2f", sy.Name, sy.Score))
	}
	if restricted != 0 {
		tests = append(tests, fmt.Sprintf("ACCORD_INTEL_RESTRICTED=%.2f", restricted))
	}
	score := d.ListedScore()
	req := d.Required
	hs := []Header{
		{"X-Spam-Flag", flag},
		{"X-Spam-Score", fmt.Sprintf("%.2f", score)},
		{"X-Spam-Status", fmt.Sprintf("%s, score=%.2f required=%.2f tests=%s version=%s", status, score, req, strings.Join(tests, ","), orNone(s.cfg.Version))},
	}
	if flag == "YES" {
		hs = append(hs, Header{"X-Spam", "Yes"})
	}
	hs = append(hs, Header{"X-Accord-Status", band})
	hs = append(hs, Header{"X-Accord-Reference", d.Reference})
	if d.AuthResults != "" {
		hs = append(hs, Header{"Authentication-Results", d.AuthResults})
	}
	return hs
}

// HeadersFor are the fields of one copy delivered to the recipients
// delivered (the milter's: one copy for every recipient it delivers to).
// A recipient's own symbols — their allow and block lists — are listed
// only in a copy that recipient alone receives: in a shared copy they
// would tell the others whom that recipient blocks or trusts. The flag
// and status stay the strongest delivered outcome (one copy has one).
func (s *Service) HeadersFor(d *Decision, outcome string, delivered []string) []Header {
	d2 := *d
	d2.Recipients = make([]RecipientDecision, len(d.Recipients))
	for i, rd := range d.Recipients {
		if len(delivered) != 1 || !strings.EqualFold(rd.Recipient, delivered[0]) {
			rd.Symbols = nil
		}
		d2.Recipients[i] = rd
	}
	return s.Headers(&d2, outcome)
}

// RejectText is the SMTP reply text of a rejection: the reason and the
// reference a sender can quote to the provider.
// RejectCode is the SMTP code for a refused message: 552 (exceeded
// storage allocation, as for a message too large) when its header is
// larger than the filter reads, else 550.
func (s *Service) RejectCode(d *Decision) int {
	if d.HeaderOverflow {
		return 552
	}
	return 550
}

// MaxRecipients bounds the recipients of one message at every door, as
// MTAs bound them (Postfix's smtpd_recipient_limit is 1000): each
// recipient is a policy lookup and may be a quarantine row, so one
// request naming thousands made thousands.
const MaxRecipients = 1000

// TooManyRecipients is the refusal of a message over MaxRecipients.
func TooManyRecipients() string {
	return fmt.Sprintf("5.5.3 Too many recipients (at most %d per message)", MaxRecipients)
}

func (s *Service) RejectText(d *Decision) string {
	if d.HeaderOverflow {
		return fmt.Sprintf("5.3.4 Message header too large to inspect (over %d fields or %d KiB; reference %s)", MaxHeaderFields, mail.DefaultLimits().MaxHeaderBytes>>10, d.Reference)
	}
	// The refusing recipients' score and own reasons (a block list
	// entry), not the message's score alone: "score -3.29" said nothing
	// of why a blocked sender was refused.
	score, why := d.Score, ""
	first := true
	for _, rd := range d.Recipients {
		if rd.Outcome != OutcomeReject {
			continue
		}
		if first || rd.Score > score {
			score = rd.Score
		}
		first = false
		for _, sy := range rd.Symbols {
			if sy.Score > 0 && !strings.Contains(why, sy.Name) {
				why += ", " + sy.Name
			}
		}
	}
	return fmt.Sprintf("5.7.1 Message refused as spam (score %.2f%s, reference %s); if this is a mistake, ask the recipient's provider, quoting the reference", score, why, d.Reference)
}

// authResults renders the results the engine computed itself as an
// Authentication-Results value (RFC 8601) under our authserv-id. Results
// it read from the message's own fields (or an ARC set) are the writer's
// claims, never re-issued in our name.
//
// Every property value comes from the sender (the envelope's MAIL FROM
// and HELO, a signature's d= and s=, the From domain), so each is written
// only as a valid token: a domain as a domain name (A-labels, lower
// case), a selector as an RFC 2045 token; anything else is left out.
// Before, "smtp.mailfrom=ok.test;spf=pass" and "…ok.test> ; dkim=pass
// header.d=paypal.com" were copied raw from MAIL FROM into the field that
// carries our authserv-id, which downstream rules and mail clients trust.
func authResults(id string, v *analysis.Verdict) string {
	if v == nil || v.Auth == nil {
		return ""
	}
	a := v.Auth
	var parts []string
	if a.SPF.Result != "" && a.SPF.Source == mailauth.SourceComputed {
		p := "spf=" + string(a.SPF.Result)
		if d, ok := arDomain(a.SPF.Domain); ok {
			if a.SPF.Identity == "helo" {
				p += " smtp.helo=" + d
			} else {
				p += " smtp.mailfrom=" + d
			}
		}
		parts = append(parts, p)
	}
	for _, sg := range a.DKIM {
		if sg.Source != mailauth.SourceComputed {
			continue
		}
		p := "dkim=" + string(sg.Result)
		if d, ok := arDomain(sg.Domain); ok {
			p += " header.d=" + d
		}
		if arToken(sg.Selector) {
			p += " header.s=" + sg.Selector
		}
		parts = append(parts, p)
	}
	if a.DMARC.Result != "" && a.DMARC.Source == mailauth.SourceComputed {
		p := "dmarc=" + string(a.DMARC.Result)
		if a.DMARC.Applied != "" {
			p += " (p=" + string(a.DMARC.Applied) + ")"
		}
		if d, ok := arDomain(a.DMARC.Domain); ok {
			p += " header.from=" + d
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return id + "; none"
	}
	return id + "; " + strings.Join(parts, ";\n\t")
}

// arDomain is a domain as an Authentication-Results property value: the
// name normalised (dnsname.Normalize: A-labels, lower case, no trailing
// dot), or false for what is not a domain name — an address literal, or
// anything with a character a reader would split on (";", "(", ">",
// space).
func arDomain(d string) (string, bool) {
	if d == "" {
		return "", false
	}
	return dnsname.Normalize(d)
}

// arToken reports whether s is an RFC 2045 token: printable ASCII
// without space or tspecials, so written bare it is one value.
func arToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?=`, c) >= 0 {
			return false
		}
	}
	return true
}
