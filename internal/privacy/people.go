// Package privacy keeps the people a reported spam is about — its
// recipients and the person who reported it — out of what a node shares.
// Everything that leaves a node for a partner passes through one of its
// functions: free text (subjects) loses their addresses and names, links
// are cut back to what identifies the spam run rather than its victim, and
// a message kept as evidence has their addresses redacted in every form
// they can take (header fields, Received "for" clauses, body text,
// quoted-printable and base64 parts, RFC 2047 words, percent-encoding,
// HTML entities, base64 tokens in links), and loses every other form of
// them the links are cut at (their names, a login's surname, a domain
// that spells one of them; see formSpans). Leaks checks the addresses in
// all those forms again, so a caller can refuse to share what it cannot
// prove clean.
//
// A person is often known only by an address: their names come from its
// local part too, a login of the common shapes giving its surname
// ("jdupont" gives "dupont", see loginForms), so what a spam greets them
// by is cut as a display name would be.
package privacy

import (
	"bytes"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/accord-antispam/accord/internal/dnsname"
	"github.com/accord-antispam/accord/internal/mail"
	"golang.org/x/net/idna"
	"golang.org/x/net/publicsuffix"
)

// People are the persons a reported message identifies: the addresses it
// was delivered to, the reporter's address, the local parts of those
// addresses and the display names that went with them.
type People struct {
	Addresses  []string // Lower-case addr-specs.
	LocalParts []string // Lower-case, at least 3 characters.
	Names      []string // Display names and their words of 3 letters or more, lower-case.
	Domains    []string // Lower-case domains of the recipients' addresses.

	Mentioned []string // The addresses above only mentioned in the text (see Of).

	joined  []string        // Names' words joined without a separator ("bobdurand").
	set     map[string]bool // Addresses and domains, for lookups.
	matcher *matcher        // Built on first use.

	pattern *regexp.Regexp // Also replaced in decoded text (WithPattern).
	repl    []byte
}

// recipientFields are the header fields that name who a message was
// delivered to (RFC 5322, RFC 3798, and the fields MTAs add).
var recipientFields = map[string]bool{
	"to": true, "cc": true, "bcc": true, "delivered-to": true, "x-original-to": true, "envelope-to": true,
	"x-envelope-to": true, "apparently-to": true, "resent-to": true, "resent-cc": true, "resent-bcc": true,
	"x-rcpt-to": true, "x-original-recipient": true, "original-recipient": true, "final-recipient": true,
	"x-forwarded-to": true, "x-delivered-to": true, "x-resolved-to": true, "x-apparently-to": true,
}

// IsRecipientField reports whether a header field names a recipient.
func IsRecipientField(name string) bool {
	return recipientFields[strings.ToLower(strings.TrimSpace(name))]
}

var (
	forClause = regexp.MustCompile(`(?i)\bfor\s+<?([^\s<>;()"]+@[^\s<>;()"]+?)>?(?:[\s;]|$)`)
	// mentionAddr is an address as text mentions it: no "/" or "=" of a
	// link around its local part.
	mentionAddr = regexp.MustCompile(`(?i)[a-z0-9_%+-][a-z0-9._%+-]*@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+`)
	spacedAt    = regexp.MustCompile(`[ \t\r\n]*@[ \t\r\n]*`)
	spacedAddr  = regexp.MustCompile(`(?i)(?:\[address\]|\[recipient\]|[a-z0-9_%+-][a-z0-9._%+-]*)\s*@\s*[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+`)
	linkHost    = regexp.MustCompile(`(?i)\bhttps?://(?:[^\s/@<>"]*@)?([a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)`)
	anyAddr     = regexp.MustCompile(`(?i)[a-z0-9!#$%&'*+/=?^_{|}~.-]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+`)
)

// senderFields name the sender's side: addresses found there are the
// spammer's, never a recipient mentioned in the body.
var senderFields = map[string]bool{"from": true, "sender": true, "reply-to": true, "return-path": true,
	"resent-from": true, "resent-sender": true, "errors-to": true}

// Of finds the people in a raw message: the recipients named in its header
// fields and Received "for" clauses (of the message and of every message
// embedded in it), the reporter when known — an address, or the From
// field of their complaint with their display name ("Alice Martin
// <am1987@…>", in any charset; several addresses and names are all
// theirs) —, and the addresses
// its text mentions that are recipients too: those at a recipient's or the
// reporter's domain, or — when the message names no recipient at all, as
// a Bcc delivery does — every address it mentions that is not at the
// sender's domain. Body-only addresses in that last case are "mentioned":
// they are redacted and their names scrubbed, but their domains are not
// taken for the recipients' (a shop's address in a spam must not hide the
// shop's domain from the indicators).
// Each reporter is an address or a From field; several are treated
// alike.
func Of(raw []byte, reporters ...string) People { return OfApart(raw, reporters, nil) }

// OfApart is Of with people kept apart besides the reporters: the
// forwarders the desk could not tell from the spam's author (the From of
// a forward it took whole because it may be a phish's, see
// intake.KeptApart). Their addresses, local parts and display names are
// cut as a reporter's, but their domains are not taken for a person's:
// the From may be the spammer's own, and its domain would then hide the
// spam's links from the indicators (a plain spam dressed as a forward of
// itself shared nothing).
func OfApart(raw []byte, reporters, forwarders []string) People {
	var addrs, names []string
	addAddr := func(a mail.Address) {
		s := strings.ToLower(strings.TrimSpace(a.Addr))
		if strings.Count(s, "@") != 1 || strings.HasPrefix(s, "@") || strings.HasSuffix(s, "@") {
			return
		}
		addrs = append(addrs, s)
		if n := strings.TrimSpace(a.Name); n != "" && !strings.Contains(n, "@") {
			names = append(names, strings.ToLower(n))
		}
	}
	m := mail.ParseBytes(raw, mail.Limits{})
	headers := []mail.Header{m.Header}
	for _, p := range m.Parts {
		if p.Embedded {
			headers = append(headers, p.Header)
		}
	}
	senders := map[string]bool{} // Sender domains.
	// Addresses in To and the delivery fields, and in Cc or Bcc.
	delivered, copied := map[string]bool{}, map[string]bool{}
	senderAddr := map[string]bool{} // Sender addresses.
	var mentionedIn []string        // Texts that may mention recipients.
	for _, h := range headers {
		for _, f := range h.Fields {
			name := strings.ToLower(f.Name)
			switch {
			case recipientFields[name]:
				v := f.Value
				if i := strings.Index(v, ";"); i >= 0 && (name == "original-recipient" || name == "final-recipient" || name == "x-original-recipient") {
					v = v[i+1:] // "rfc822; addr"
				}
				list, _ := mail.ParseAddressList(v)
				for _, a := range list {
					addAddr(a)
				}
				for _, a := range anyAddr.FindAllString(v, -1) {
					addAddr(mail.Address{Addr: a})
					if !copyFields[name] {
						delivered[strings.ToLower(a)] = true
					} else {
						copied[strings.ToLower(a)] = true
					}
				}
			case name == "received":
				for _, sm := range forClause.FindAllStringSubmatch(f.Value, -1) {
					addAddr(mail.Address{Addr: strings.Trim(sm[1], "<>")})
					delivered[strings.ToLower(strings.Trim(sm[1], "<>"))] = true
				}
			case senderFields[name]:
				for _, a := range anyAddr.FindAllString(f.Value, -1) {
					senders[domainOf(a)] = true
					senderAddr[strings.ToLower(a)] = true
				}
			case name == "message-id" || name == "references" || name == "in-reply-to" || strings.HasPrefix(name, "list-") ||
				strings.HasPrefix(name, "dkim") || strings.HasPrefix(name, "arc-") || strings.HasPrefix(name, "content-"):
			default:
				d, _ := mail.DecodeHeader(unfoldTight(f.Value))
				// A fold the parser turned into a space ("bob@ example.org").
				mentionedIn = append(mentionedIn, f.Value, d, spacedAt.ReplaceAllString(d, "@"))
			}
		}
	}
	forwarder := map[string]bool{}
	for i, r := range append(slices.Clone(reporters), forwarders...) {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		n := len(addrs)
		// An address, or the From field the reporter sent the complaint
		// with: their display name is theirs to protect as much as their
		// address (a spam that greets "Alice Martin" at am1987@…).
		list, _ := mail.ParseAddressList(r)
		if len(list) == 0 {
			list = []mail.Address{{Addr: r}}
		}
		for _, a := range list {
			addAddr(a)
		}
		if i >= len(reporters) {
			for _, a := range addrs[n:] {
				forwarder[a] = true
			}
		}
		// The field's words as one name too: an unquoted "Durand, Hélène"
		// parses as two items, and the name is both.
		if strings.Contains(r, "<") || strings.Contains(r, "(") || strings.Contains(r, "=?") || strings.Contains(r, ",") {
			d, _ := mail.DecodeHeader(r)
			d = anyAddr.ReplaceAllString(d, " ")
			d = strings.Join(strings.FieldsFunc(d, func(c rune) bool { return strings.ContainsRune(",;<>\"()[]", c) || c == ' ' || c == '\t' }), " ")
			if d != "" {
				names = append(names, d)
			}
		}
	}
	for _, p := range m.Parts {
		if p.Text != "" {
			mentionedIn = append(mentionedIn, p.Text)
		}
	}
	// Recipient fields are the spammer's to write: an address at the
	// sender's own domain ("Cc: info@<the spam's domain>") is redacted,
	// but its domain is nobody's, or one spam would hide its domain from
	// the indicators. Unless the sender is one of the people itself (a
	// spam "from" its recipient's own address): then the domain is theirs.
	var kept, mentioned []string
	self := false
	for _, a := range addrs {
		self = self || senderAddr[a] && !forwarder[a]
	}
	// A copy (Cc, Bcc) to the organisation the spam links to is the
	// spammer's own ("Cc: orders@<its shop>"), as one at its sender's
	// domain is: redacted, its domain nobody's, or one Cc would hide the
	// spam's links from the indicators.
	linked := map[string]bool{}
	for _, t := range mentionedIn {
		for _, h := range linkHost.FindAllStringSubmatch(t, -1) {
			if o := dnsname.OrgDomain(strings.ToLower(h[1])); o != "" {
				linked[o] = true
			}
		}
	}
	for _, a := range addrs {
		if copied[a] && !delivered[a] && linked[dnsname.OrgDomain(domainOf(a))] {
			mentioned = append(mentioned, a)
		} else if forwarder[a] {
			// A forwarder, whatever fields also name them (the made-up
			// original's To): redacted, their domain nobody's.
			mentioned = append(mentioned, a)
		} else if senders[domainOf(a)] && !self {
			mentioned = append(mentioned, a)
		} else {
			kept = append(kept, a)
		}
	}
	addrs = kept
	recipDomains := map[string]bool{}
	for _, a := range addrs {
		recipDomains[domainOf(a)] = true
	}
	for _, t := range mentionedIn {
		for _, a := range mentionAddr.FindAllString(t, -1) {
			a = strings.ToLower(a)
			d := domainOf(a)
			switch {
			case recipDomains[d]:
				addAddr(mail.Address{Addr: a})
			case len(recipDomains) == 0 && !senders[d]:
				mentioned = append(mentioned, a)
			}
		}
	}
	p := NewMentioned(addrs, mentioned, names)
	return p
}

// copyFields are the recipient fields that only copy a message to
// someone (RFC 5322 3.6.3): the spammer's to fill with its own
// addresses ("Cc: info@<the spam's domain>") while sending to the
// victim in To.
var copyFields = map[string]bool{"cc": true, "bcc": true, "resent-cc": true, "resent-bcc": true}

// unfoldTight joins a folded header value without the whitespace the fold
// left, so "bob@\r\n example.org" reads as the address it hides.
func unfoldTight(v string) string {
	for _, fold := range []string{"\r\n ", "\r\n\t", "\n ", "\n\t"} {
		v = strings.ReplaceAll(v, fold, "")
	}
	return v
}

// unfold joins a folded header value as RFC 5322 2.2.3 does: the line
// breaks go, the whitespace after them stays.
func unfold(v string) string {
	return strings.NewReplacer("\r\n", "", "\n", "").Replace(v)
}

// publicSuffix reports whether d is a public suffix ("com", "co.uk",
// "github.io", an unlisted top-level name): nobody's domain. An address
// there ("Cc: info@com") is still redacted, but its domain is not a
// person's — or every name under it would be, and one Cc would hide every
// domain and link of a spam from the indicators.
func publicSuffix(d string) bool {
	d = strings.TrimSuffix(d, ".")
	if a, err := idna.ToASCII(d); err == nil {
		d = a
	}
	ps, _ := publicsuffix.PublicSuffix(d)
	return ps == d
}

func domainOf(a string) string {
	if i := strings.LastIndexByte(a, '@'); i >= 0 {
		return strings.ToLower(strings.TrimSuffix(a[i+1:], "."))
	}
	return ""
}

// New builds People from addresses and display names.
func New(addresses, names []string) People { return NewMentioned(addresses, nil, names) }

// NewMentioned builds People from recipients' addresses, addresses that
// are only mentioned (redacted and their names scrubbed, but their domains
// not taken for recipients' domains) and display names. Names are also
// derived from each address's local part: its words of 3 letters or more
// ("bob.durand" gives "bob" and "durand") and those words joined in either
// order without a separator or with ".", "-" or "_" ("bob-durand",
// "durand_bob", "bobdurand"); display names give the same forms. A login
// of the common shapes gives its surname and its initial joined to it
// ("jdupont" and "dupontj" give "dupont", "k.nguyen" gives "knguyen"; see
// loginForms), a role login ("sales", "billing") none.
func NewMentioned(addresses, mentioned, names []string) People {
	p := People{set: map[string]bool{}, matcher: &matcher{}}
	seen := map[string]bool{}
	add := func(list *[]string, v string) {
		if !seen[v] {
			seen[v] = true
			*list = append(*list, v)
		}
	}
	addName := func(words []string) {
		words, unspacedName := splitUnspaced(words)
		var kept []string
		for _, w := range words {
			n := len([]rune(w))
			switch {
			case unspacedName && n >= 2, n >= 3 && !commonWords[w]:
				add(&p.Names, "n:"+w)
				kept = append(kept, w)
			case unspacedName && n == 1:
				kept = append(kept, w) // A family name of one character: only joined to the given name.
			}
		}
		if len(kept) < 2 || len(kept) > 4 {
			return
		}
		for _, f := range initials(kept) {
			if unspacedName {
				break // Han, kana and Hangul have no initials.
			}
			add(&p.Names, "n:"+f)
			if !strings.ContainsAny(f, ".-_") {
				p.joined = append(p.joined, f)
			}
		}
		rev := slices.Clone(kept)
		slices.Reverse(rev)
		for _, order := range [][]string{kept, rev} {
			for _, sep := range []string{"", ".", "-", "_"} {
				j := strings.Join(order, sep)
				add(&p.Names, "n:"+j)
				if sep == "" {
					p.joined = append(p.joined, j)
				}
			}
		}
	}
	all := append(slices.Clone(addresses), mentioned...)
	for i, a := range all {
		if !utf8.ValidString(a) {
			// Raw 8-bit text is read as Latin-1, as the mail parser does.
			a = latin1(a)
		}
		a = strings.ToLower(strings.TrimSpace(a))
		at := strings.LastIndexByte(a, '@')
		if at <= 0 || at == len(a)-1 || p.set[a] {
			continue
		}
		p.set[a] = true
		p.Addresses = append(p.Addresses, a)
		lp := a[:at]
		if len(lp) >= 3 {
			add(&p.LocalParts, "l:"+lp)
		}
		addName(strings.FieldsFunc(lp, func(r rune) bool { return !isLetter(r) }))
		names, joined := loginForms(lp)
		for _, n := range names {
			add(&p.Names, "n:"+n)
		}
		p.joined = append(p.joined, joined...)
		if i >= len(addresses) {
			p.Mentioned = append(p.Mentioned, a)
			continue // Mentioned only: its domain is nobody's.
		}
		if d := a[at+1:]; !p.set["@"+d] && !publicSuffix(d) {
			p.set["@"+d] = true
			p.Domains = append(p.Domains, d)
		}
	}
	for _, n := range names {
		if !utf8.ValidString(n) {
			n = latin1(n) // Raw 8-bit text, read as Latin-1.
		}
		n = strings.ToLower(strings.Trim(strings.TrimSpace(n), `"'`))
		if len(n) < 3 {
			continue
		}
		add(&p.Names, "n:"+n)
		addName(strings.FieldsFunc(n, func(r rune) bool { return !isLetter(r) }))
	}
	for i := range p.LocalParts {
		p.LocalParts[i] = p.LocalParts[i][2:]
	}
	// Names also without their accents ("frédéric" and "frederic"), so a
	// name matches however either side wrote it.
	for _, n := range slices.Clone(p.Names) {
		if f := fold(n[2:]); f != n[2:] {
			add(&p.Names, "n:"+f)
		}
	}
	for i, j := range p.joined {
		p.joined[i] = fold(j)
	}
	for i := range p.Names {
		p.Names[i] = p.Names[i][2:]
	}
	// Longest first, so a longer form is replaced before a shorter part of it.
	byLen := func(a, b string) int { return len(b) - len(a) }
	slices.SortStableFunc(p.Addresses, byLen)
	slices.SortStableFunc(p.LocalParts, byLen)
	slices.SortStableFunc(p.Names, byLen)
	return p
}

// splitUnspaced reads a name in Han, kana or Hangul (unspaced): its
// words of one or two characters are the name's parts — in Japanese
// address books family and given names are written apart ("山田 太郎"),
// in text joined ("山田太郎様") — and a name written as one word of two,
// three or four characters is split into its family name and given name
// (王明: 王 and 明, found joined only; 王小明: 王 and 小明; 山田太郎: 山田
// and 太郎; 김철수: 김 and 철수), so the given
// name alone ("小明，您的包裹") and the parts joined otherwise ("王-小明")
// are found. A one-character part counts only joined to the others.
func splitUnspaced(words []string) ([]string, bool) {
	if len(words) == 0 {
		return words, false
	}
	for _, w := range words {
		for _, r := range w {
			if !unspaced(r) {
				return words, false
			}
		}
	}
	if len(words) > 1 {
		return words, true
	}
	r := []rune(words[0])
	switch len(r) {
	case 2:
		return []string{string(r[:1]), string(r[1:])}, true
	case 3:
		return []string{string(r[:1]), string(r[1:])}, true
	case 4:
		return []string{string(r[:2]), string(r[2:])}, true
	}
	return words, true
}

// commonWords are words of display names that name nobody ("Undisclosed
// recipients", "Customer Service").
var commonWords = map[string]bool{"the": true, "and": true, "for": true, "you": true, "your": true, "our": true, "dear": true,
	"team": true, "list": true, "info": true, "user": true, "users": true, "all": true, "members": true, "customer": true,
	"customers": true, "recipient": true, "recipients": true, "undisclosed": true, "friend": true, "friends": true,
	"subscriber": true, "subscribers": true, "mailing": true, "service": true, "support": true, "mrs": true,
	// Role local parts: "sales@…" names a desk, not a person.
	"admin": true, "contact": true, "hello": true, "mail": true, "email": true, "noreply": true, "reply": true,
	"news": true, "newsletter": true, "office": true, "webmaster": true, "postmaster": true, "abuse": true,
	"billing": true, "help": true, "sales": true, "orders": true, "order": true, "account": true, "accounts": true,
	"security": true, "unsubscribe": true, "marketing": true, "bounce": true, "bounces": true, "mailer": true,
	"daemon": true, "notifications": true, "alerts": true, "www": true, "http": true, "https": true, "com": true}

// toLatin1 writes s in Latin-1 bytes when it can.
func toLatin1(s string) (string, bool) {
	b := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 0xFF {
			return "", false
		}
		b = append(b, byte(r))
	}
	return string(b), true
}

// indexFold finds needle in b, ignoring ASCII case.
func indexFold(b, needle []byte) int {
	for i := 0; i+len(needle) <= len(b); i++ {
		if bytes.EqualFold(b[i:i+len(needle)], needle) {
			return i
		}
	}
	return -1
}

func latin1(s string) string {
	r := make([]rune, len(s))
	for i := 0; i < len(s); i++ {
		r[i] = rune(s[i])
	}
	return string(r)
}

func isLetter(r rune) bool {
	// The ideographic space (U+3000) and the middle dots (・, ·) of CJK
	// names separate a name's parts as a space does (山田　太郎).
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r > 127 && (r >= 0xC0 && r != 0xD7 && r != 0xF7) && !unicode.IsSpace(r) && !unicode.IsPunct(r)
}

// Recipients lists their addresses that are not only mentioned.
func (p People) Recipients() []string {
	var out []string
	for _, a := range p.Addresses {
		if !slices.Contains(p.Mentioned, a) {
			out = append(out, a)
		}
	}
	return out
}

// Empty reports whether nobody is known.
func (p People) Empty() bool { return len(p.Addresses) == 0 && len(p.Names) == 0 }

// IsAddress reports whether a is one of the people's addresses.
func (p People) IsAddress(a string) bool {
	if !utf8.ValidString(a) {
		a = latin1(a)
	}
	a = strings.ToLower(strings.TrimSpace(a))
	return !strings.HasPrefix(a, "@") && p.set[a]
}

// IsDomain reports whether d is the domain of one of their addresses.
func (p People) IsDomain(d string) bool {
	d = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(d), "."))
	return d != "" && p.set["@"+d]
}

// Holds reports whether s contains one of their addresses in any
// spelling.
func (p People) Holds(s string) bool { return p.containsAny([]byte(s)) }

// Text removes the people from free text (a subject, a description): every
// e-mail address, whoever's, becomes "[address]", and their local parts
// and names "[recipient]". What remains says what the spam was about, not
// to whom it went.
func (p People) Text(s string) string {
	m := p.m()
	b := replace([]byte(s), m.spans([]byte(s)), "[address]")
	b = anyAddr.ReplaceAll(b, []byte("[address]"))
	// An address a fold or a typist split around its "@" ("bob@ example.org").
	b = spacedAddr.ReplaceAll(b, []byte("[address]"))
	b = replace(b, p.domainSpans(b), "[recipient]")
	return string(replace(b, m.wordSpans(b), "[recipient]"))
}

// domainSpans finds their domains in text, in any spelling (see
// spellings), ignoring case and accents, where they stand as whole names
// (not inside a longer one). A large mailbox provider's domain names
// nobody and stays ("your gmail.com mailbox is full").
func (p People) domainSpans(b []byte) [][2]int {
	var out [][2]int
	f := foldMap(b)
	l := string(f.b)
	for _, d := range p.m().doms {
		if d.provider {
			continue
		}
		for _, sp := range wholeSpans(l, d.name) {
			out = append(out, [2]int{f.at[sp[0]], f.end[sp[1]-1]})
		}
		for _, sp := range labelSpans(l, d) {
			out = append(out, [2]int{f.at[sp[0]], f.end[sp[1]-1]})
		}
	}
	return merge(out)
}

// labelSpans finds a domain's registrable name in folded text as the
// links find it (see HoldsDomain): as a whole word when it has four
// letters or more ("Girard-Famille", "Dupont", not the public suffix of
// a host: "pharma.example" names no one at example.net), and, when it
// has words of eight letters or more together, with any separators
// between them or none, in either order ("girard_famille", "girard
// famille", "girardfamille", "famille-girard"), and so the whole
// domain's words ("dupont-example").
func labelSpans(l string, d domSpelling) [][2]int {
	if len(d.label) < 4 {
		return nil
	}
	var out [][2]int
	for _, sp := range wholeSpans(l, d.label) {
		if !inSuffix(l, sp[0]) {
			out = append(out, sp)
		}
	}
	for _, words := range d.joinedWords() {
		for _, sp := range joinedSpans(l, words) {
			if !inSuffix(l, sp[0]) {
				out = append(out, sp)
			}
		}
	}
	return out
}

// inSuffix reports whether position i of folded text falls in the
// public suffix of the host name around it ("example" in
// "pharma.example").
func inSuffix(l string, i int) bool {
	host := func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c >= 0x80
	}
	s, e := i, i
	for s > 0 && host(l[s-1]) {
		s--
	}
	for e < len(l) && host(l[e]) {
		e++
	}
	tok := strings.Trim(l[s:e], ".")
	if !strings.Contains(tok, ".") {
		return false
	}
	suffix, _ := publicsuffix.PublicSuffix(tok)
	return i >= s+strings.Index(l[s:e], tok)+len(tok)-len(suffix)
}

// containsAny reports whether text holds one of their addresses in any
// spelling, or a base64 spelling of one.
func (p People) containsAny(text []byte) bool {
	if p.m().has(text) {
		return true
	}
	for _, sp := range b64Runs(text) {
		if p.decodedHolds(text[sp[0]:sp[1]]) {
			return true
		}
	}
	return false
}

// joinedWords are the word lists labelSpans finds written with any
// separators or none: the registrable name's words in either order
// when eight letters or more, and the whole domain's ("dupont-example",
// "girard famille example").
func (d domSpelling) joinedWords() [][]string {
	var out [][]string
	if words := strings.Split(d.label, "-"); len(words) > 1 && len(squash(d.label)) >= 8 {
		rev := slices.Clone(words)
		slices.Reverse(rev)
		out = append(out, words, rev)
	}
	if words := strings.FieldsFunc(d.name, func(r rune) bool { return r == '.' || r == '-' }); len(words) > 1 && len(squash(d.name)) >= 8 {
		out = append(out, words)
	}
	return out
}

// joinedSpans finds words in folded text one after the other, with
// nothing or only separators (spaces, ".", "_", "+", "~", "-") between
// them, standing as a whole (no letter or digit on either side).
func joinedSpans(l string, words []string) [][2]int {
	var out [][2]int
	edge := func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }
	for off := 0; off < len(l); {
		i := strings.Index(l[off:], words[0])
		if i < 0 {
			break
		}
		s := off + i
		off = s + 1
		if r, _ := utf8.DecodeLastRuneInString(l[:s]); s > 0 && !edge(r) {
			continue
		}
		j, ok := s+len(words[0]), true
		for _, w := range words[1:] {
			for j < len(l) && strings.IndexByte(" \t._+~-", l[j]) >= 0 {
				j++
			}
			if !strings.HasPrefix(l[j:], w) {
				ok = false
				break
			}
			j += len(w)
		}
		if r, _ := utf8.DecodeRuneInString(l[j:]); !ok || j < len(l) && !edge(r) {
			continue
		}
		out = append(out, [2]int{s, j})
		off = j
	}
	return out
}
