package intake

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"regexp"
	"slices"
	"strings"

	"github.com/accord-antispam/accord/internal/dnsname"
	"github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/mailauth"
	"github.com/accord-antispam/accord/internal/rules"
)

// Forms a complaint comes in.
const (
	FormRaw           = "raw"            // The reported message itself.
	FormARF           = "arf"            // RFC 5965 feedback report.
	FormXARF          = "x-arf"          // X-ARF (JSON) abuse report.
	FormAttached      = "attached"       // A forward with the spam attached as message/rfc822.
	FormInlineForward = "inline-forward" // A forward with the spam quoted in the body.
	FormPaste         = "paste"          // Text pasted without headers.
)

// Item is one reported message recovered from a complaint.
type Item struct {
	Raw          []byte            // The reported message, as exactly as the complaint carried it.
	Form         string            // How it was found.
	Unverifiable []string          // What of it cannot be trusted (inline forwards lose the original headers).
	Feedback     map[string]string // ARF / X-ARF fields about the report (Feedback-Type, Source-IP…).
	// Forwarders are the From fields of the forwards unwrapped inside the
	// complaint to reach this message (Carol's forward to abuse@, passed
	// on by the abuse desk): people, whose address and display name the
	// message itself may not carry, cut from all that is shared
	// (KeptApart). The complaint's own From, the reporter, is not one.
	Forwarders []string

	// unsure marks a message taken whole although it may be a person's
	// forward (see unsureForward): its From is kept apart as a reporter's
	// would be (ForwardedBy), so that either way no innocent party is
	// shared as the spam's.
	unsure bool

	// byAuthor marks a message the mailbox got from its own author and
	// took whole as the spam (see mailedByAuthor): its sender is no
	// reporter (SentByItsAuthor).
	byAuthor bool

	// cut marks a message that may be cut short: the complaint ended
	// before closing the MIME container it came in (see cutShort).
	cut bool

	// parsed is Raw as Extract parsed it (the default limits), when the
	// item is the complaint itself: the desk analyses it without parsing
	// (and decoding, up to its size again) a second time.
	parsed *mail.Message
}

// ErrNoMessage is returned when a complaint carries nothing to report.
var ErrNoMessage = fmt.Errorf("intake: the complaint carries no message to report")

// ErrBadEvidence is a report whose evidence is damaged by its own
// account: an X-ARF evidence item that cannot be decoded, or whose
// payload does not match the hash the report declares for it. Nothing of
// the report is kept: the sender can send it again whole.
var ErrBadEvidence = fmt.Errorf("intake: the report's evidence is damaged")

// Unverifiable notes about how a message arrived.
const (
	unverifiableCut        = "completeness: the complaint ends before closing the MIME part this message came in; the message may be cut short"
	unverifiableNoFeedback = "feedback: the ARF report has no message/feedback-report part (RFC 5965 requires one), so it gives no Feedback-Type, Source-IP or reporting agent"
)

// cutShort reports whether part p may be cut short: a multipart holding
// it has no close delimiter and p is that multipart's last body, which
// then runs to the end of what arrived. (A message that is itself
// malformed inside is not cut: only its containers count.)
func cutShort(m *mail.Message, p *mail.Part) bool {
	open := map[string]bool{}
	for _, d := range m.Defects {
		if d.Code == mail.DefectMissingCloseDelim {
			open[d.Part] = true
		}
	}
	if len(open) == 0 || m.Root == nil {
		return false
	}
	label := func(id string) string {
		if id == "0" {
			return ""
		}
		return id
	}
	var walk func(n *mail.Part) (found, cut bool)
	walk = func(n *mail.Part) (bool, bool) {
		if n == p {
			return true, false
		}
		for i, c := range n.Children {
			if found, cut := walk(c); found {
				return true, cut || open[label(n.ID)] && n.IsMultipart() && i == len(n.Children)-1
			}
		}
		return false, false
	}
	_, cut := walk(m.Root)
	return cut
}

// attachedItem is the message part p carries, marked when it may be cut.
func attachedItem(m *mail.Message, p *mail.Part, raw []byte, form string) Item {
	it := Item{Raw: raw, Form: form}
	if cutShort(m, p) {
		it.cut = true
		it.Unverifiable = append(it.Unverifiable, unverifiableCut)
	}
	return it
}

// maxItems bounds the messages taken from one complaint.
const maxItems = 20

// Via says how a complaint arrived, which decides how it is read.
type Via struct {
	// Mailbox is set for the complaints mailbox: the complaint is a mail
	// from the reporter, so it is searched for an attached or quoted
	// message before it is taken as the spam itself.
	Mailbox bool
	// Reporter is the address that sent the complaint (the SMTP envelope
	// sender). A plain mail from this address is the reporter's own note,
	// so its body is a paste; a plain mail from anyone else is spam the
	// reporter redirected (bounced) with its original headers.
	Reporter string
	// Declared is the media type the client declared (the API's
	// Content-Type): the body must then be what it says. application/json
	// is X-ARF only; multipart/report a feedback report with a message;
	// message/rfc822 and application/octet-stream a mail message; text/plain
	// a paste with something to act on. "" (the web form, the mailbox)
	// takes whatever form is found.
	Declared string
	// As is what the reporter declared the upload to be: AsForwarded (a
	// forward they made, the spam inside it) or AsReceived (the spam as it
	// reached them, never unwrapped); "" when they did not say.
	As string
	// Authenticated is set at the mailbox when the node itself
	// authenticated the envelope sender (SPF for the connecting relay, or
	// a DKIM signature it verified), never from fields in the message.
	Authenticated bool
	// Desk are the addresses the complaint was delivered to at the
	// mailbox (the SMTP recipients) and the desk's public address (an
	// alias elsewhere may pass mail on under another recipient): a mail
	// written to one of them is written to the desk, whatever its local
	// part.
	Desk []string
}

// What a reporter may declare an upload to be (Via.As).
const (
	AsForwarded = "forwarded" // "I forwarded this spam": the outer message is mine, the spam is inside.
	AsReceived  = "received"  // "This is the spam as I received it": taken whole.
)

// ParseAs reads a reporter's declaration: "" (not said), AsForwarded or
// AsReceived; anything else is an error naming the choices.
func ParseAs(v string) (string, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "":
		return "", nil
	case AsForwarded, "forward":
		return AsForwarded, nil
	case AsReceived, "raw":
		return AsReceived, nil
	}
	return "", fmt.Errorf("intake: %q is neither %q (you forwarded the spam) nor %q (the spam as you received it)", v, AsForwarded, AsReceived)
}

// ReportTypeError is a multipart/report of another kind than a feedback
// report (a delivery status notification, a read receipt): not a
// complaint about spam.
type ReportTypeError struct{ Type string }

func (e *ReportTypeError) Error() string {
	return fmt.Sprintf("intake: a multipart/report of report-type %q is not a feedback report (RFC 5965 report-type=feedback-report)", e.Type)
}

func reject(reason string, err error) error { return &RejectError{Reason: reason, Err: err} }

// Extract recovers the reported messages from a complaint.
func Extract(raw []byte, via Via) ([]Item, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, ErrNoMessage
	}
	if items, ok, err := extractXARFJSON(raw); err != nil {
		return nil, err
	} else if ok {
		return items, nil
	}
	if via.Declared == "application/json" {
		return nil, reject("the body is not an X-ARF report (xarf_version \"4\", or Version \"3\")", ErrNoMessage)
	}
	switch via.As {
	case "":
	case AsForwarded, AsReceived:
		if via.Declared == "application/json" || via.Declared == "multipart/report" {
			return nil, reject(fmt.Sprintf("as=%s is said of a mail message; a %s report says itself what it carries", via.As, via.Declared), ErrNoMessage)
		}
	default:
		_, err := ParseAs(via.As)
		return nil, reject(err.Error(), err)
	}
	m := mail.ParseBytes(raw, mail.DefaultLimits())
	if via.As != "" {
		return declared(raw, m, via)
	}
	if root := m.Root; root != nil && root.ContentType == "multipart/report" {
		if rt := strings.ToLower(root.Params["report-type"]); rt != "feedback-report" && via.Declared == "multipart/report" {
			return nil, reject((&ReportTypeError{Type: rt}).Error(), &ReportTypeError{Type: rt})
		}
	} else if via.Declared == "multipart/report" {
		return nil, reject("the body is not a multipart/report", ErrNoMessage)
	}
	if items, err := extractARF(m); err != nil {
		return nil, err
	} else if len(items) > 0 {
		return items, nil
	} else if isARF(m) {
		return nil, reject("the feedback report carries no message: put the reported mail in a message/rfc822 (or text/rfc822-headers) part", ErrNoMessage)
	}
	if items, err := extractXARFMail(m); err != nil {
		return nil, err
	} else if len(items) > 0 {
		return items, nil
	}
	// A forward is unwrapped wherever it arrives — the mailbox, the API,
	// the form — and is known by its structure, not by its subject (a
	// reporter may write "Signalement spam"): a message attached to a
	// person's mail, or an original quoted after a client's forward
	// marker or header block (see extractInlineForward). Taken whole, its
	// From — the reporter — would pass for the spammer: the origin would
	// be the reporter's provider, and their name and address would be
	// spared as the "sender's" when reports are shared with partners.
	// Outside the mailbox (which turns bounces away before this) a
	// delivery notice's attached message is the one it reports on: the
	// notice is what was received. A phish carrying a made-up original
	// (see selfForward) is the spam itself on every channel: redirected
	// to the mailbox by its victim (Resent-From) or passed on by a
	// server rule, it is judged as when it is uploaded.
	own := via.Mailbox && fromReporter(m, via.Reporter)
	if own && via.Authenticated {
		// The node authenticated the relay that handed the mail to the
		// desk as the reporter's, and the mail is the reporter's own: what
		// it attaches or quotes is what they received, whatever that
		// claims (see declared).
		if items, ok := unwrapDeclared(m); ok {
			return items, nil
		}
	}
	fake := false
	if items := extractAttached(m); len(items) > 0 && (via.Mailbox || !deliveryNotice(m)) {
		if fake = selfForward(m, items[0].Raw); !fake {
			if unsureForward(m, items[0].Raw, via.Desk) {
				return []Item{unsureWhole(raw, m)}, nil
			}
			for i := range items {
				items[i] = forwardedOriginal(items[i], authorOf(m))
			}
			return items, nil
		}
	}
	if !fake {
		if it, ok := extractInlineForward(m, own); ok {
			if fake = selfForward(m, it.Raw); !fake {
				if unsureForward(m, it.Raw, via.Desk) {
					return []Item{unsureWhole(raw, m)}, nil
				}
				return []Item{forwardedOriginal(it, authorOf(m))}, nil
			}
		}
	}
	if looksLikeMessage(m) && (fake || !own) {
		// The mailbox judges a message as the form and the API do: a
		// subject over a line of words, with no From and no To, is no
		// message anyone received and names nothing to act on (the
		// reporter gets the how-to). A spam a server passed on has its
		// whole header.
		if !messageHasEvidence(m, raw) {
			return nil, reject(noEvidence, ErrNoMessage)
		}
		// A phish mailed to the desk by its author (the envelope sender
		// is its From) is no one's complaint: its From is the spam's.
		return []Item{{Raw: raw, Form: FormRaw, parsed: m, byAuthor: own}}, nil
	}
	if own && looksLikeMessage(m) && mailedByAuthor(m, via.Desk) && pasteHasEvidence(bodyText(m), via.Reporter) {
		return []Item{{Raw: raw, Form: FormRaw, parsed: m, byAuthor: true}}, nil
	}
	switch via.Declared {
	case "message/rfc822", "application/octet-stream":
		return nil, reject("the body is not a mail message (no header with From, Subject, Date, Received or Message-ID)", ErrNoMessage)
	case "text/plain":
		if !isText(raw) {
			return nil, fmt.Errorf("intake: the complaint is neither a message nor text (%d bytes of binary data)", len(raw))
		}
		if !pasteHasEvidence(string(raw), "") {
			return nil, reject(noEvidence, ErrNoMessage)
		}
	}
	if via.Mailbox {
		// The reporter's own mail with nothing attached or quoted: its
		// body is the paste, its headers are the reporter's, not the
		// spammer's.
		body := bodyText(m)
		if strings.TrimSpace(body) == "" {
			return nil, ErrNoMessage
		}
		if !isText([]byte(body)) {
			return nil, fmt.Errorf("intake: the complaint is neither a message nor text (%d bytes of binary data)", len(raw))
		}
		// A note with nothing in it that could identify a sender ("how do I
		// report spam?") is a question, not a report — whatever the
		// reporter's own signature gives (their number, their site).
		if !pasteHasEvidence(withoutSignature(body), via.Reporter) {
			return nil, ErrNoMessage
		}
		return []Item{{Raw: []byte("\r\n" + body), Form: FormPaste, Unverifiable: []string{"headers: none were given"}}}, nil
	}
	if !isText(raw) {
		return nil, fmt.Errorf("intake: the complaint is neither a message nor text (%d bytes of binary data)", len(raw))
	}
	// The web form's paste or file, judged as the API's text and the
	// mailbox's note are: words with nothing to act on are no report.
	if !pasteHasEvidence(string(raw), "") {
		return nil, reject(noEvidence, ErrNoMessage)
	}
	return []Item{{Raw: append([]byte("\r\n"), raw...), Form: FormPaste, Unverifiable: []string{"headers: none were given"}}}, nil
}

// declared reads a complaint whose reporter said what it is (Via.As):
// the reporter, not the headers a phisher writes, decides "forward or
// spam". As received, the message is the spam whatever it quotes or
// attaches (a CEO fraud above a made-up lawyer's mail, an invoice phish
// above a made-up mail from its victim). As forwarded, the outer message
// is the reporter's and the first message it attaches or quotes is the
// spam, whatever that one's From and To say; a forward of a forward
// inside it is undone as on every channel (forwardedOriginal).
func declared(raw []byte, m *mail.Message, via Via) ([]Item, error) {
	if via.As == AsForwarded {
		if items, ok := unwrapDeclared(m); ok {
			return items, nil
		}
		return nil, reject("declared as a forward (as=forwarded), but it neither attaches a message nor quotes one after a forward marker or header block: attach the spam, or send it as=received", ErrNoMessage)
	}
	if looksLikeMessage(m) {
		if !messageHasEvidence(m, raw) {
			return nil, reject(noEvidence, ErrNoMessage)
		}
		return []Item{{Raw: raw, Form: FormRaw, parsed: m}}, nil
	}
	if via.Declared == "message/rfc822" || via.Declared == "application/octet-stream" {
		return nil, reject("the body is not a mail message (no header with From, Subject, Date, Received or Message-ID)", ErrNoMessage)
	}
	if !isText(raw) {
		return nil, fmt.Errorf("intake: the complaint is neither a message nor text (%d bytes of binary data)", len(raw))
	}
	if !pasteHasEvidence(string(raw), "") {
		return nil, reject(noEvidence, ErrNoMessage)
	}
	return []Item{{Raw: append([]byte("\r\n"), raw...), Form: FormPaste, Unverifiable: []string{"headers: none were given"}}}, nil
}

// unwrapDeclared takes the spam out of a message known to be the
// reporter's forward: its attached messages, else the original it quotes
// (read as the reporter's own mail, so a header block without a marker
// or "Fwd:" counts).
func unwrapDeclared(m *mail.Message) ([]Item, bool) {
	if items := extractAttached(m); len(items) > 0 {
		for i := range items {
			items[i] = forwardedOriginal(items[i], authorOf(m))
		}
		return items, true
	}
	if it, ok := extractInlineForward(m, true); ok {
		return []Item{forwardedOriginal(it, authorOf(m))}, true
	}
	return nil, false
}

var (
	pasteURL     = regexp.MustCompile(`(?i)\b(?:https?://|www\.)[^\s<>"]+`)
	pasteHost    = regexp.MustCompile(`(?i)\b[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+(/)?`)
	pasteAddress = regexp.MustCompile(`(?i)[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+`)
	pasteField   = regexp.MustCompile(`(?im)^(?:>\s*)?(?:from|to|subject|date|received|return-path|message-id|reply-to|sender|de|von|objet|betreff|asunto|oggetto|envoyé|gesendet)\s*:\s*\S`)
	// A telephone number as scams print them: international (+33 …,
	// 0033 …) or national with its trunk 0 (0900-123-4567), 9 to 15
	// digits. A date or a price starts with neither.
	pastePhone = regexp.MustCompile(`(?:\+|\b0)\d(?:[ ().-]{0,2}\d){7,14}\b`)
	// An IBAN, grouped or not; its check digits are verified.
	pasteIBAN = regexp.MustCompile(`\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}\b`)
)

// pasteHasEvidence reports whether pasted text carries something to act
// on: a link (a URL, or a host name under a real top-level domain:
// dhl-parcel.nl/pay, bit.ly/x, cheap-pills.com), an address other than
// the reporter's own, a telephone number, an IBAN, or at least two lines
// of a message header. Scams point people at a number or an account as
// often as at a link; an authority acts on those too.
func pasteHasEvidence(body, reporter string) bool {
	if pasteURL.MatchString(body) || len(pasteField.FindAllStringIndex(body, 3)) >= 2 || pastePhone.MatchString(body) {
		return true
	}
	reporter = strings.ToLower(strings.TrimSpace(reporter))
	for _, a := range pasteAddress.FindAllString(body, 20) {
		if strings.ToLower(a) != reporter {
			return true
		}
	}
	for _, ix := range pasteHost.FindAllStringSubmatchIndex(body, 50) {
		host, path := body[ix[0]:ix[1]], ix[2] >= 0
		if ix[0] > 0 && body[ix[0]-1] == '@' {
			continue // an address's domain: the address rule judged it
		}
		// Prose has names with dots ("R.Hughes", .hughes being a brand's
		// top-level domain): a host is taken as one when it is written
		// in lower case, as links are, or is followed by a path.
		if (path || host == strings.ToLower(host)) && dnsname.ICANNSuffix(strings.TrimSuffix(host, "/")) {
			return true
		}
	}
	for _, c := range pasteIBAN.FindAllString(body, 10) {
		if ibanValid(strings.ReplaceAll(c, " ", "")) {
			return true
		}
	}
	return false
}

// withoutSignature is a mail body without its author's signature block
// (from the "-- " line, RFC 3676 4.3, on).
func withoutSignature(body string) string {
	for _, sep := range []string{"\r\n-- \r\n", "\n-- \n", "\r\n--\r\n", "\n--\n"} {
		if i := strings.Index(body, sep); i >= 0 {
			body = body[:i]
		}
	}
	return body
}

// noEvidence is why a text or a message with nothing to act on is no
// report.
const noEvidence = "the text names no link, address, telephone number, IBAN or message header to act on"

// messageHasEvidence reports whether an uploaded or pasted message carries
// something to act on: two fields of a real header (a message has a
// From, a Date, a Subject, Received fields), else what a paste must
// have. "Subject: hi" over "hello world" is no message anyone received.
func messageHasEvidence(m *mail.Message, raw []byte) bool {
	n := 0
	for _, f := range []string{"From", "To", "Subject", "Date", "Received", "Message-ID", "Return-Path", "Reply-To", "Sender"} {
		if m.Header.Has(f) {
			n++
		}
	}
	return n >= 2 || pasteHasEvidence(string(raw), "")
}

// ibanValid checks an IBAN's check digits (ISO 13616: the number with its
// first four characters moved to the end, letters as 10–35, is 1 modulo
// 97).
func ibanValid(s string) bool {
	if len(s) < 15 || len(s) > 34 {
		return false
	}
	r := 0
	for _, c := range s[4:] + s[:4] {
		switch {
		case c >= '0' && c <= '9':
			r = (r*10 + int(c-'0')) % 97
		case c >= 'A' && c <= 'Z':
			r = (r*100 + int(c-'A') + 10) % 97
		default:
			return false
		}
	}
	return r == 1
}

// fromReporter reports whether the message's author is the reporter.
func fromReporter(m *mail.Message, reporter string) bool {
	reporter = strings.ToLower(strings.TrimSpace(reporter))
	if reporter == "" || m.Header.Has("Resent-From") {
		return false
	}
	from := strings.ToLower(m.Header.Get("From"))
	if i := strings.LastIndexByte(from, '<'); i >= 0 {
		from = strings.TrimSuffix(strings.TrimSpace(from[i+1:]), ">")
	}
	return strings.TrimSpace(from) == reporter
}

// forwardPrefixes start the subject of a forwarded message, as mail
// clients write them in the desk's languages and in the other languages
// of the European Union's large mail populations and Russian and Japanese
// (sv, da, no, fi, pl, cs, ru, ja; lower case): a reporter writes in
// their own language whatever the desk's.
var forwardPrefixes = []string{"fwd:", "fw:", "[fwd:", "tr:", "wg:", "rv:", "enc:", "i:", "doorst:", "fwd ",
	"vb:", "vs:", "vl:", "pd:", "př:", "пересл:", "転送:"}

// forwardSubject reports whether a subject says its message is a forward.
func forwardSubject(v string) bool { return hasPrefix(v, forwardPrefixes) }

// replyPrefixes start the subject of a reply (lower case).
var replyPrefixes = []string{"re:", "re :", "aw:", "sv:", "antw:", "rif:", "r:", "ref:", "réf:", "res:"}

// replySubject reports whether a subject says its message is a reply
// (and not the forward of one: "Fwd: Re: x" is a forward).
func replySubject(v string) bool { return hasPrefix(v, replyPrefixes) && !forwardSubject(v) }

func hasPrefix(v string, prefixes []string) bool {
	if d, err := mail.DecodeHeader(v); err == nil {
		v = d
	}
	v = strings.ToLower(strings.TrimSpace(v))
	for _, p := range prefixes {
		if strings.HasPrefix(v, p) {
			return true
		}
	}
	return false
}

// daemonLocal matches the local parts mail systems send their notices
// from (dots, underscores and spaces read as hyphens).
var daemonLocal = regexp.MustCompile(`(?i)^(mailer-?daemon|mail-?daemon|post-?master|mail-delivery-(sub)?system|mdaemon|mail-administrator|microsoftexchange[0-9a-f]*|double-bounce|internet-mail-delivery|system-administrator|no-?reply|do-?not-?reply)$`)

// deliveryNotice reports whether a message is a mail system's notice
// about another message — a multipart/report (a DSN, a read receipt), a
// delivery-status part, or a mail daemon's From — rather than a person's
// forward.
func deliveryNotice(m *mail.Message) bool {
	if m.Root != nil && m.Root.ContentType == "multipart/report" {
		return true
	}
	// The message's own parts only: a person forwarding a bounce (the
	// spam they got was one) attaches a message that has such a part.
	var status func(p *mail.Part) bool
	status = func(p *mail.Part) bool {
		if p.ContentType == "message/delivery-status" || p.ContentType == "message/global-delivery-status" {
			return true
		}
		if !p.IsMultipart() {
			return false
		}
		for _, c := range p.Children {
			if status(c) {
				return true
			}
		}
		return false
	}
	if m.Root != nil && status(m.Root) {
		return true
	}
	from := m.Header.Get("From")
	if i := strings.LastIndexByte(from, '<'); i >= 0 {
		from = from[i+1:]
	}
	local, _, _ := strings.Cut(strings.Trim(strings.TrimSpace(from), "<>"), "@")
	return daemonLocal.MatchString(strings.NewReplacer(".", "-", "_", "-", " ", "-").Replace(local))
}

// looksLikeMessage reports whether a parse found an RFC 5322 header with at
// least one of the fields every real message has.
func looksLikeMessage(m *mail.Message) bool {
	if len(m.Header.Fields) == 0 {
		return false
	}
	for _, f := range []string{"From", "Received", "Subject", "Message-ID", "Date", "Return-Path"} {
		if m.Header.Has(f) {
			return true
		}
	}
	return false
}

func isText(b []byte) bool {
	if len(b) > 4096 {
		b = b[:4096]
	}
	bad := 0
	for _, c := range b {
		if c == 0 || c < 9 || c > 13 && c < 32 {
			bad++
		}
	}
	return bad*20 < len(b)
}

// partBytes returns the bytes of an attached message: the slice of the
// complaint itself when the part was not transfer-encoded, so the evidence
// is byte for byte what the reporter attached, else the decoded body.
func partBytes(m *mail.Message, p *mail.Part) []byte {
	if len(p.Children) == 1 {
		c := p.Children[0]
		if c.Offset >= 0 && c.End >= c.Offset && c.End <= len(m.Raw) {
			return m.Raw[c.Offset:c.End]
		}
	}
	return p.Body
}

// isARF reports whether a message is a feedback report (RFC 5965).
func isARF(m *mail.Message) bool {
	root := m.Root
	return root != nil && root.ContentType == "multipart/report" && strings.EqualFold(root.Params["report-type"], "feedback-report")
}

// extractARF reads a feedback report's messages. A report that is cut
// short (no close delimiter) or has no feedback part keeps its messages,
// each saying so; a message part that is no mail refuses the report.
func extractARF(m *mail.Message) ([]Item, error) {
	if !isARF(m) {
		return nil, nil
	}
	fb := map[string]string{}
	var items []Item
	hasFeedback := false
	for _, p := range m.Parts {
		switch p.ContentType {
		case "message/feedback-report":
			hasFeedback = true
			// A copy: p.Body may be a slice of the complaint, and an append
			// in place would write over the bytes after it — the evidence.
			fm := mail.ParseBytes(append(bytes.Clone(bytes.TrimLeft(p.Body, "\r\n")), '\n', '\n'), mail.DefaultLimits())
			for _, f := range fm.Header.Fields {
				if _, dup := fb[f.Name]; !dup {
					fb[f.Name] = f.Value
				}
			}
		case "message/rfc822", "message/global":
			// An empty part is no message (it made a 0-byte report).
			b := partBytes(m, p)
			if len(items) >= maxItems || len(bytes.TrimSpace(b)) == 0 {
				continue
			}
			if !looksLikeMessage(mail.ParseBytes(b, mail.Limits{MaxBytes: 256 << 10})) {
				return nil, reject(fmt.Sprintf("the feedback report's %s part %s is not a mail message (no header with From, Subject, Date, Received or Message-ID)", p.ContentType, p.ID), ErrNoMessage)
			}
			items = append(items, attachedItem(m, p, b, FormARF))
		case "text/rfc822-headers", "message/rfc822-headers":
			if len(items) >= maxItems || len(bytes.TrimSpace(p.Body)) == 0 {
				continue
			}
			it := attachedItem(m, p, append(bytes.Clone(bytes.TrimRight(p.Body, "\r\n")), "\r\n\r\n"...), FormARF)
			it.Unverifiable = append(it.Unverifiable, "body: the report carries only the headers")
			items = append(items, it)
		}
	}
	for i := range items {
		items[i].Feedback = fb
		if !hasFeedback {
			items[i].Unverifiable = append(items[i].Unverifiable, unverifiableNoFeedback)
		}
	}
	return items, nil
}

// X-ARF: version 4 is one JSON document (as an API body or a mail part);
// version 3 carries the same as JSON with Report.Attachment.
type xarf struct {
	XARFVersion string `json:"xarf_version"`
	Category    string `json:"category"`
	Type        string `json:"type"`
	Source      string `json:"source_identifier"`
	SMTPFrom    string `json:"smtp_from"`
	Evidence    []struct {
		ContentType string `json:"content_type"`
		Payload     string `json:"payload"`
		Hash        string `json:"hash"` // "sha256:hex" (also sha1, sha512, md5) of the decoded payload.
	} `json:"evidence"`
	Version string `json:"Version"`
	Report  struct {
		ReportType string `json:"ReportType"`
		Source     struct {
			IP string `json:"IP"`
		} `json:"Source"`
		Attachment []struct {
			ContentType string `json:"ContentType"`
			Data        string `json:"Data"`
		} `json:"Attachment"`
	} `json:"Report"`
}

// XARFTypeError is an X-ARF report about something other than spam or
// phishing mail (a DDoS, a copyright claim…): not for this desk.
type XARFTypeError struct{ Type string }

func (e *XARFTypeError) Error() string {
	return fmt.Sprintf("intake: an X-ARF report of type %q is not about spam or phishing mail; this desk takes messaging/spam, messaging/bulk_messaging and content/phishing (v3: spam, phishing)", e.Type)
}

// xarfMailTypes are the X-ARF types about unwanted or fraudulent mail.
var xarfMailTypes = map[string]bool{"messaging/spam": true, "messaging/bulk_messaging": true, "content/phishing": true, "spam": true, "phishing": true}

// extractXARFJSON reads an X-ARF JSON report: ok is false when raw is not
// one; an error when it is one this desk cannot take (another type, or no
// message in its evidence).
func extractXARFJSON(raw []byte) ([]Item, bool, error) {
	t := bytes.TrimSpace(raw)
	if len(t) == 0 || t[0] != '{' {
		return nil, false, nil
	}
	var x xarf
	if err := json.Unmarshal(t, &x); err != nil || x.XARFVersion == "" && x.Version == "" {
		return nil, false, nil
	}
	fb := map[string]string{"X-ARF-Version": x.XARFVersion + x.Version}
	typ := strings.ToLower(x.Report.ReportType)
	if x.Type != "" {
		fb["Report-Type"] = x.Category + "/" + x.Type
		typ = strings.ToLower(x.Category + "/" + x.Type)
	} else if x.Report.ReportType != "" {
		fb["Report-Type"] = x.Report.ReportType
	}
	if !xarfMailTypes[typ] {
		return nil, true, &RejectError{Reason: (&XARFTypeError{Type: typ}).Error(), Err: &XARFTypeError{Type: typ}}
	}
	if s := x.Source + x.Report.Source.IP; s != "" {
		fb["Source-IP"] = s
	}
	if x.SMTPFrom != "" {
		fb["Original-Mail-From"] = x.SMTPFrom
	}
	var items []Item
	// Each message the report carries must be whole by its own account:
	// decodable, matching the hash declared for it, and a mail. One that
	// is not refuses the report (nothing kept), never drops silently.
	add := func(n int, ct, data, hash string) error {
		if !strings.HasPrefix(strings.ToLower(ct), "message/rfc822") || len(items) >= maxItems {
			return nil
		}
		b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(data), ""))
		if err != nil {
			return reject(fmt.Sprintf("X-ARF evidence item %d (%s) is not valid base64: %v", n, ct, err), ErrBadEvidence)
		}
		if len(bytes.TrimSpace(b)) == 0 {
			return reject(fmt.Sprintf("X-ARF evidence item %d (%s) is empty", n, ct), ErrBadEvidence)
		}
		var note []string
		if hash != "" {
			ok, known := hashMatches(hash, b)
			switch {
			case !known:
				note = append(note, "evidence: the hash the X-ARF report declares ("+clipNote(hash)+") is of an algorithm the desk does not check")
			case !ok:
				s := sha256.Sum256(b)
				return reject(fmt.Sprintf("X-ARF evidence item %d does not match the hash the report declares for it (%s); the payload's SHA-256 is %s: the evidence was damaged on its way",
					n, clipNote(hash), hex.EncodeToString(s[:])), ErrBadEvidence)
			}
		}
		if !looksLikeMessage(mail.ParseBytes(b, mail.Limits{MaxBytes: 256 << 10})) {
			return reject(fmt.Sprintf("X-ARF evidence item %d (%s) is not a mail message (no header with From, Subject, Date, Received or Message-ID)", n, ct), ErrNoMessage)
		}
		items = append(items, Item{Raw: b, Form: FormXARF, Feedback: fb, Unverifiable: note})
		return nil
	}
	for i, e := range x.Evidence {
		if err := add(i+1, e.ContentType, e.Payload, e.Hash); err != nil {
			return nil, true, err
		}
	}
	for i, a := range x.Report.Attachment {
		if err := add(i+1, a.ContentType, a.Data, ""); err != nil {
			return nil, true, err
		}
	}
	if len(items) == 0 {
		return nil, true, errXARFNoEvidence
	}
	return items, true, nil
}

// errXARFNoEvidence is an X-ARF report with no message in its evidence
// (by mail, the message may be another part of the mail).
var errXARFNoEvidence = &RejectError{Reason: "the X-ARF report carries no message: put the reported mail in its evidence as message/rfc822, base64", Err: ErrNoMessage}

func extractXARFMail(m *mail.Message) ([]Item, error) {
	if !m.Header.Has("X-ARF") {
		return nil, nil
	}
	for _, p := range m.Parts {
		if p.ContentType == "application/json" || strings.HasSuffix(p.Filename, ".json") {
			items, ok, err := extractXARFJSON(p.Body)
			if ok && err != nil {
				var xt *XARFTypeError
				if errors.As(err, &xt) || err == errXARFNoEvidence {
					continue // another part of the mail may carry the spam
				}
				return nil, err // a damaged evidence item: refused, not dropped
			}
			if ok {
				return items, nil
			}
		}
	}
	return extractAttached(m), nil
}

// hashMatches checks a declared "algorithm:hex" hash of b: known is false
// for an algorithm it does not know.
func hashMatches(declared string, b []byte) (ok, known bool) {
	alg, want, found := strings.Cut(strings.TrimSpace(declared), ":")
	if !found {
		return false, false
	}
	var h hash.Hash
	switch strings.ToLower(strings.ReplaceAll(alg, "-", "")) {
	case "sha256":
		h = sha256.New()
	case "sha512":
		h = sha512.New()
	case "sha1":
		h = sha1.New()
	case "md5":
		h = md5.New()
	default:
		return false, false
	}
	h.Write(b)
	return strings.EqualFold(hex.EncodeToString(h.Sum(nil)), strings.TrimSpace(want)), true
}

// clipNote bounds a value from a report quoted in a note or an error.
func clipNote(s string) string {
	if len(s) > 140 {
		return strings.ToValidUTF8(s[:140], "") + "…"
	}
	return s
}

func extractAttached(m *mail.Message) []Item {
	var items []Item
	for _, p := range m.Parts {
		if (p.ContentType == "message/rfc822" || p.ContentType == "message/global") && p.Depth == 1 && len(items) < maxItems {
			items = append(items, attachedItem(m, p, partBytes(m, p), FormAttached))
		}
	}
	// Clients that attach the spam as a .eml file with a generic type.
	if len(items) == 0 {
		for _, p := range m.Parts {
			if p.Depth >= 1 && strings.HasSuffix(strings.ToLower(p.Filename), ".eml") && len(items) < maxItems {
				items = append(items, attachedItem(m, p, p.Body, FormAttached))
			}
		}
	}
	return items
}

// Lines that start a quoted original in a forward's body, as mail clients
// write them in the desk's languages (de, en, es, fr, it, nl, pt) and in
// sv, da, no, fi, pl, cs, ru and ja (a reporter forwards in their own), lower
// case, without the dashes around them ("---------- Forwarded message
// ---------" in Gmail, "-------- Forwarded Message --------" in
// Thunderbird, "-----Original Message-----" in Outlook, "----- Forwarded
// Message -----" in Yahoo) or the colon after them ("Begin forwarded
// message:" in Apple Mail). forwarded is true for the markers only a
// forward writes; "original message" also heads the quote of a reply.
var (
	dashMarkers = map[string]bool{
		"forwarded message": true, "message transféré": true, "message transfere": true, "weitergeleitete nachricht": true,
		"mensaje reenviado": true, "messaggio inoltrato": true, "doorgestuurd bericht": true, "mensagem encaminhada": true,
		"mensagem reencaminhada": true, "e-mail encaminhado": true,
		"vidarebefordrat meddelande": true, "videresendt besked": true, "videresendt meddelelse": true,
		"videresendt melding": true, "välitetty viesti": true, "wiadomość przekazana dalej": true,
		"přeposlaná zpráva": true, "пересылаемое сообщение": true, "転送されたメッセージ": true, "転送メッセージ": true,
		"original message": false, "message original": false, "message d'origine": false, "message d’origine": false,
		"ursprüngliche nachricht": false, "original-nachricht": false, "originalnachricht": false, "mensaje original": false,
		"messaggio originale": false, "oorspronkelijk bericht": false, "origineel bericht": false, "mensagem original": false,
		"ursprungligt meddelande": false, "oprindelig meddelelse": false, "opprinnelig melding": false,
		"alkuperäinen viesti": false, "oryginalna wiadomość": false, "původní zpráva": false, "исходное сообщение": false,
		"元のメッセージ": false,
	}
	colonMarkers = map[string]bool{
		"begin forwarded message": true, "début du message réexpédié": true, "début du message transféré": true,
		"anfang der weitergeleiteten nachricht": true, "inicio del mensaje reenviado": true, "comienzo del mensaje reenviado": true,
		"inizio messaggio inoltrato": true, "inizio del messaggio inoltrato": true, "begin doorgestuurd bericht": true,
		"início da mensagem reencaminhada": true, "início da mensagem encaminhada": true, "começo da mensagem encaminhada": true,
	}
)

// marker reads one body line as a forward marker: ok when it is one,
// forwarded when only a forward writes it.
func marker(line string) (ok, forwarded bool) {
	l := strings.TrimSpace(strings.TrimLeft(line, "> \t"))
	if len(l) < 10 || len(l) > 80 {
		return false, false
	}
	if strings.HasPrefix(l, "--") && strings.HasSuffix(l, "--") {
		f, ok := dashMarkers[strings.ToLower(strings.TrimSpace(strings.Trim(l, "-")))]
		return ok, f
	}
	if strings.HasSuffix(l, ":") {
		p := strings.ToLower(strings.TrimRight(strings.TrimSuffix(l, ":"), " \u00a0\u202f\t"))
		return colonMarkers[p], colonMarkers[p]
	}
	return false, false
}

// fieldLine reads one body line as a quoted header field ("From: x",
// "*Von:* x", "De : x"): its RFC 5322 name ("" when it is none) and value.
func fieldLine(line string) (name, value string) {
	l := strings.TrimSpace(strings.TrimLeft(line, "> \t"))
	n, v, ok := strings.Cut(l, ":")
	if !ok || len(n) > 20 {
		return "", ""
	}
	n = strings.Trim(strings.TrimSpace(n), "*_\u00a0\u202f ")
	v = strings.TrimSpace(strings.TrimLeft(v, "*_ "))
	return normaliseForwardField(n), v
}

func blank(line string) bool { return strings.TrimSpace(strings.TrimLeft(line, "> \t")) == "" }

// quotedField is one field of a quoted header block.
type quotedField struct{ name, value string }

// quotedHeader reads the header block a client quoted from lines[i] on:
// its fields and the index of the body after it. Leading blank lines are
// skipped, and so are blank lines between two fields (clients that quote
// the block in HTML leave one after each).
func quotedHeader(lines []string, i int) ([]quotedField, int) {
	for ; i < len(lines) && blank(lines[i]); i++ {
	}
	var fields []quotedField
	for n := 0; i < len(lines) && n < 40; i, n = i+1, n+1 {
		if blank(lines[i]) {
			j := i + 1
			for ; j < len(lines) && blank(lines[j]); j++ {
			}
			if name, _ := fieldLine(lines[min(j, len(lines)-1)]); j < len(lines) && name != "" {
				i = j - 1
				continue
			}
			return fields, j
		}
		name, value := fieldLine(lines[i])
		if name == "" {
			break
		}
		fields = append(fields, quotedField{name, value})
	}
	return fields, i
}

// extractInlineForward recovers what a quoted forward keeps: the header
// lines the client copied (From, Date, Subject, To) and the body after
// them. The Received chain, authentication and the exact bytes are lost,
// and the item says so.
//
// The quote starts after a marker line that says "forwarded" (Gmail,
// Thunderbird, Yahoo, Apple Mail), or after "Original Message" (Outlook,
// older Thunderbird), or at a header block quoted without a marker
// (Outlook: From, Sent, To, Subject; a From line then, within the block,
// a send time and a subject). Those last two also head the quote of a
// reply, and spam poses as threads — a phishing mail over "-----Original
// Message-----", a bought thread under a "Sent:" block — so they are taken
// for a forward only when something says it is one: the subject ("Fwd:",
// "TR:"…, never a reply's "Re:"), the quoted recipients naming the
// complaint's own author (a person forwarding what they received), or, at
// the mailbox, the complaint being the reporter's own mail (own).
func extractInlineForward(m *mail.Message, own bool) (Item, bool) {
	body := bodyText(m)
	lines := strings.Split(strings.ReplaceAll(body, "\r\n", "\n"), "\n")
	subject := m.Header.Get("Subject")
	fwdSubject, reply := forwardSubject(subject), replySubject(subject)
	for i, l := range lines {
		var start int
		ok, forwarded := marker(l)
		switch {
		case ok:
			start = i + 1
		case outlookBlock(lines, i):
			start = i
		default:
			continue
		}
		fields, next := quotedHeader(lines, start)
		if len(fields) == 0 {
			continue
		}
		if !forwarded && (reply || !fwdSubject && !own && !namesAuthor(fields, m.Header.Get("From"))) {
			continue
		}
		var hdr strings.Builder
		for _, f := range fields {
			fmt.Fprintf(&hdr, "%s: %s\r\n", f.name, f.value)
		}
		raw := hdr.String() + "\r\n" + strings.Join(lines[next:], "\r\n")
		return Item{Raw: []byte(raw), Form: FormInlineForward, Unverifiable: []string{
			"headers: only the fields the reporter's mail client quoted (From, To, Date, Subject) survive; the Received chain is lost, so the origin cannot be traced",
			"authentication: SPF, DKIM and DMARC cannot be checked on a quoted copy",
			"bytes: the body was re-encoded by the forwarding client; it is not the original message",
		}}, true
	}
	return Item{}, false
}

// outlookBlock reports whether lines[i] starts a header block quoted
// without a marker line: a From line followed, within the block, by a
// send time ("Sent:", "Envoyé :", "Date:"…) and a subject.
func outlookBlock(lines []string, i int) bool {
	if name, v := fieldLine(lines[i]); name != "From" || v == "" {
		return false
	}
	var date, subject bool
	for j := i + 1; j < len(lines) && j < i+10; j++ {
		name, _ := fieldLine(lines[j])
		if name == "" {
			if blank(lines[j]) {
				continue // a blank line an HTML client left between two fields
			}
			break
		}
		date = date || name == "Date"
		subject = subject || name == "Subject"
	}
	return date && subject
}

// namesAuthor reports whether a quoted header's recipients (To, Cc) name
// the author of the complaint around it, by address or display name: the
// person forwarded what was sent to them.
func namesAuthor(fields []quotedField, from string) bool {
	from = strings.ToLower(strings.TrimSpace(from))
	if d, err := mail.DecodeHeader(from); err == nil {
		from = d
	}
	var who []string
	if i := strings.LastIndexByte(from, '<'); i >= 0 {
		who = append(who, strings.TrimSpace(strings.Trim(from[:i], "\" ")), strings.Trim(strings.TrimSpace(from[i+1:]), "<> "))
	} else {
		who = append(who, strings.Trim(from, "<> "))
	}
	for _, f := range fields {
		if f.name != "To" && f.name != "Cc" {
			continue
		}
		v := strings.ToLower(f.value)
		for _, w := range who {
			if len(w) >= 3 && strings.Contains(v, w) {
				return true
			}
		}
	}
	return false
}

// normaliseForwardField maps the field names clients write in quotes
// (localised too) to RFC 5322 names; unknown names end the header block.
func normaliseForwardField(n string) string {
	switch strings.ToLower(n) {
	case "from", "de", "von", "da", "van",
		"från", "fra", "lähettäjä", "od", "от", "差出人":
		return "From"
	case "to", "à", "a", "an", "para", "aan",
		"till", "til", "vastaanottaja", "do", "komu", "кому", "宛先":
		return "To"
	case "cc", "cci", "kopie", "kopia", "kopi", "kopio", "dw", "копия":
		return "Cc"
	case "date", "sent", "datum", "fecha", "envoyé", "envoye", "gesendet", "enviado", "enviada", "enviado el", "inviato", "verzonden", "data",
		"sent date", "date d'envoi",
		"skickat", "sendt", "dato", "lähetetty", "päivämäärä", "wysłano", "wysłane", "odesláno", "отправлено", "дата", "送信日時", "日付":
		return "Date"
	case "subject", "objet", "betreff", "asunto", "oggetto", "onderwerp", "assunto", "sujet",
		"ämne", "emne", "aihe", "temat", "předmět", "тема", "件名":
		return "Subject"
	case "reply-to", "répondre à", "antwort an", "responder a", "rispondi a", "antwoord aan":
		return "Reply-To"
	}
	return ""
}

func bodyText(m *mail.Message) string {
	for _, p := range m.TextParts() {
		if p.ContentType == "text/plain" {
			return p.Text
		}
	}
	c := mail.Extract(m)
	return c.HTMLText
}

// selfForward reports whether a message uploaded as a forward is the
// spam itself carrying a fake forwarded thread (invoice and CEO fraud
// write "FW:" above a made-up original). A person's forward comes from
// someone the original went to, or from their organisation, or goes to
// someone else (the desk, a colleague). So the message is the spam when
// it hands the "original" back to its author (its From is one of the
// original's recipients and it writes to the original's sender, not a
// reporting address), or its From is not one of the original's
// recipients and either
//   - is at the original's sender domain and is that sender itself or
//     writes to one of the original's recipients (the victim of both), or
//   - is at none of the original's recipients' domains yet writes to one
//     of them, other than a reporting address: the CEO fraud whose
//     look-alike "CEO" forwards a made-up lawyer's mail, sent to the real
//     CEO, to the firm's accountant (a complaint sent to the recipients'
//     abuse desk is a report).
//
// It is asked on every channel and at every level of a forward of a
// forward (see forwardedOriginal).
//
// Taken for a forward, the phisher became "the reporter" — its domain
// and links cut as a person's — the true delivery headers (origin IP and
// country) were dropped, and the made-up original's sender, an innocent
// third party, was shared as the spam's sender domain.
func selfForward(outer *mail.Message, inner []byte) bool {
	from, _ := mail.ParseAddressList(outer.Header.Get("From"))
	if len(from) == 0 || from[0].Domain == "" {
		return false
	}
	im := mail.ParseBytes(inner, mail.DefaultLimits())
	if impostor(outer, from[0], im) || colleagueHandedBack(outer, from[0], im) {
		return true
	}
	innerTo, innerDom := map[string]bool{}, map[string]bool{}
	for _, f := range []string{"To", "Cc"} {
		list, _ := mail.ParseAddressList(im.Header.Get(f))
		for _, a := range list {
			innerTo[strings.ToLower(a.Addr)] = true
			if a.Domain != "" {
				innerDom[strings.ToLower(a.Domain)] = true
			}
		}
	}
	var outerTo []mail.Address
	for _, f := range []string{"To", "Cc"} {
		list, _ := mail.ParseAddressList(outer.Header.Get(f))
		outerTo = append(outerTo, list...)
	}
	ifrom, _ := mail.ParseAddressList(im.Header.Get("From"))
	if innerTo[strings.ToLower(from[0].Addr)] {
		// One of the original's recipients: a forward, unless it hands
		// the "original" back to its author — the invoice phish quoting
		// a made-up mail from its victim ("From: compta@victim, To:
		// support@phish") above "Fwd:", sent to that victim. Handing a
		// spam back to a reporting address it spoofed (the desk's
		// report@, a bank's phishing@) is still a forward.
		if len(ifrom) == 0 || strings.EqualFold(from[0].Addr, ifrom[0].Addr) {
			return false
		}
		for _, a := range outerTo {
			if strings.EqualFold(a.Addr, ifrom[0].Addr) && !reportingAddress(a.Addr) {
				return true
			}
		}
		return false
	}
	if len(ifrom) > 0 && strings.EqualFold(from[0].Domain, ifrom[0].Domain) {
		if strings.EqualFold(from[0].Addr, ifrom[0].Addr) {
			return true // "Forwarding" what it sent itself, to someone else.
		}
		for _, a := range outerTo {
			if innerTo[strings.ToLower(a.Addr)] {
				return true
			}
		}
		return false
	}
	if innerDom[strings.ToLower(from[0].Domain)] {
		return false // From the recipients' own organisation: a colleague's forward.
	}
	for _, a := range outerTo {
		// A complaint to the recipients' abuse desk (a provider's
		// feedback mail to abuse-report@ their domain) is a report.
		if innerDom[strings.ToLower(a.Domain)] && !reportingAddress(a.Addr) {
			return true
		}
	}
	return false
}

// impostor reports whether a message that looks like a forward shows the
// marks of the fraud it may carry, none of which a person's forward has:
// its From is at a look-alike of a domain it writes to or the "original"
// was sent to (ceo@acme-c0rp writing to compta@acme-corp, whatever the
// original it quotes says: the phisher writes that too) — not of the
// original's sender, which a reporter forwarding such a phish is the
// victim of; its Reply-To
// sends the answers to a look-alike of its From's or its recipients'
// domain at another organisation; or the receiving server's verdict at
// the top of the header says its From failed DMARC (the CEO's exact
// domain spoofed). Those fields are read only when the desk has nothing
// better — no declaration by the reporter, no envelope it authenticated
// itself (see Extract) — and each of them only ever takes the message
// whole: a phisher writing them makes its own mail the spam.
func impostor(outer *mail.Message, from mail.Address, inner *mail.Message) bool {
	var others []string
	for _, h := range []struct {
		hdr    mail.Header
		fields []string
	}{{outer.Header, []string{"To", "Cc"}}, {inner.Header, []string{"To", "Cc"}}} {
		for _, f := range h.fields {
			list, _ := mail.ParseAddressList(h.hdr.Get(f))
			for _, a := range list {
				if a.Domain != "" {
					others = append(others, strings.ToLower(a.Domain))
				}
			}
		}
	}
	for _, d := range others {
		if _, ok := rules.ImitatesDomain(from.Domain, d); ok {
			return true
		}
	}
	replyTo, _ := mail.ParseAddressList(outer.Header.Get("Reply-To"))
	for _, r := range replyTo {
		if r.Domain == "" {
			continue
		}
		for _, d := range append(others, from.Domain) {
			if _, ok := rules.ImitatesDomain(r.Domain, d); ok {
				return true
			}
		}
	}
	// The topmost verdict only: the one the receiving server wrote last.
	if v := outer.Header.Get("Authentication-Results"); v != "" {
		if ar, ok := mailauth.ParseAuthResults(v); ok {
			for _, am := range ar.Results {
				if am.Method == "dmarc" && am.Result == mailauth.Fail && strings.EqualFold(strings.TrimSpace(am.Props["header.from"]), from.Domain) {
					return true
				}
			}
		}
	}
	return false
}

// unsureForward reports whether a forward nobody vouched for (no as=,
// not the reporter's own mail authenticated at the mailbox) is as much a
// phish as a forward by its headers: its author passes a message on to
// anyone who is not a reporting address, the desk or the author itself
// (whoever else it also writes to), or to no one in sight (Bcc). "Bob
// forwards the spam he got to Alice" and "the phisher hands the victim a
// made-up mail from a lawyer" are the same fields, written by different
// people, whether the made-up mail names the phisher as its recipient
// (p1), nobody (undisclosed-recipients, no To: line) or a third party; a
// reporter forwards to the desk, to a reporting address or to themselves.
// Unwrapped, a phish shares the lawyer as the spam's sender; taken whole,
// a forward shares the forwarder. The desk takes it whole and keeps the
// forwarder apart (unsureWhole, and UnsureOrigin at the federation's
// border): the error, either way, loses an indicator (the phisher's
// domain, or the spam's) and names no one.
//
// A hand-on within the author's organisation is unsure as well: the chief
// executive's exact domain spoofed, "FW:" to the accountant above a
// made-up lawyer's mail "to the CEO", writes a colleague's forward; an
// error loses a colleague's forward's sender domain and origin, never
// names the lawyer. desk are the mailbox's own addresses (its SMTP
// recipients), which count as reporting addresses.
func unsureForward(outer *mail.Message, inner []byte, desk []string) bool {
	from, _ := mail.ParseAddressList(outer.Header.Get("From"))
	if len(from) == 0 || from[0].Domain == "" {
		return false
	}
	// A person's forward names whom it goes to; one to nobody in sight
	// ("undisclosed-recipients:;", Bcc only) is a mailing's. One outside
	// recipient is enough: a phish adding the desk's report@ or a
	// colleague of the phisher in Cc is still handed to its victim.
	named := false
	for _, f := range []string{"To", "Cc"} {
		list, _ := mail.ParseAddressList(outer.Header.Get(f))
		for _, a := range list {
			if a.Domain == "" {
				continue
			}
			named = true
			if reportingAddress(a.Addr) || slices.ContainsFunc(desk, func(d string) bool { return strings.EqualFold(d, a.Addr) }) {
				continue
			}
			if !strings.EqualFold(a.Addr, from[0].Addr) {
				return true
			}
		}
	}
	return !named
}

// mailedByAuthor reports whether a mail the mailbox got from its own
// author (the envelope sender is its From, no redirect), quoting and
// attaching nothing, is the spam itself rather than its sender's note
// to the desk: a spam trap's hit, the desk's address being on the
// spammer's list. A person writing to the desk writes to it — to one of
// the addresses the mailbox received the mail for, an address at their
// domain or a reporting address — and their mail client writes no
// mailing's fields; a reply or a forward ("Re:", "Fwd:") is a person's
// too. So the mail is the spam when it carries a mailing's fields
// (List-Unsubscribe, List-Id, Precedence: bulk, list or junk), or, not
// being a reply or forward, is written to no one at the desk (to its
// victims, to undisclosed recipients, to no one in sight); and it has
// something to act on (a link, another address). Taken for a
// note, the spammer was "the reporter": its message became a paste and
// its From domain, links and origin were cut as a person's. A spammer
// writing such fields only makes its own mail the spam; a person who
// writes to someone else with the desk in Bcc only has their mail
// taken whole as the spam (see docs/federation.md).
func mailedByAuthor(m *mail.Message, desk []string) bool {
	if m.Header.Has("List-Unsubscribe") || m.Header.Has("List-Id") {
		return true
	}
	switch strings.ToLower(strings.TrimSpace(m.Header.Get("Precedence"))) {
	case "bulk", "list", "junk":
		return true
	}
	subject := m.Header.Get("Subject")
	if replySubject(subject) || forwardSubject(subject) {
		return false
	}
	for _, f := range []string{"To", "Cc"} {
		list, _ := mail.ParseAddressList(m.Header.Get(f))
		for _, a := range list {
			if a.Domain == "" {
				continue
			}
			if reportingAddress(a.Addr) || slices.ContainsFunc(desk, func(d string) bool {
				return strings.EqualFold(d, a.Addr) || dnsname.SameOrg(domainOfAddr(d), a.Domain)
			}) {
				return false
			}
		}
	}
	return true
}

func domainOfAddr(a string) string {
	if i := strings.LastIndexByte(a, '@'); i >= 0 {
		return a[i+1:]
	}
	return ""
}

// SentByItsAuthor reports whether a complaint is a spam its own author
// mailed to the desk (a spam trap's hit, or a phish mailed straight to
// it): its sender is then not a reporter, and the desk records none.
func SentByItsAuthor(items []Item) bool {
	return len(items) == 1 && items[0].byAuthor
}

// unsureWhole is a complaint taken whole because nothing says whose it
// is (unsureForward), and says so to the analyst.
func unsureWhole(raw []byte, m *mail.Message) Item {
	return Item{Raw: raw, Form: FormRaw, parsed: m, unsure: true, Unverifiable: []string{
		unsurePrefix + " it passes on a message to someone who is not a reporting address nor its author; nothing said which it is, so it is taken whole, its From is kept apart as a possible reporter's and its origin is not shared as the spam's (upload it with as=forwarded or as=received to say)",
	}}
}

// unsureLevel is the Unverifiable entry of a forwarded message that
// forwardedOriginal did not unwrap further because it may be a phish or
// a person's forward (unsureForward).
const unsureLevel = unsurePrefix + " the message forwarded passes on a message sent to its author to someone who is not a reporting address: a phish above a made-up original or a person's forward of a spam; it is taken as the spam, and neither its origin nor its From's domain is shared as the spam's"

// unsureHandedBack is the Unverifiable entry of a forwarded message that
// hands back to the forwarder a mail "from" them (forwardedOriginal).
const unsureHandedBack = unsurePrefix + " the message forwarded hands back to its forwarder a mail that claims to be theirs: a phish quoting a made-up request of its victim's, or someone asking whether they sent it; it is taken as the spam, and neither its origin nor its From's domain is shared as the spam's"

// authorOf is the address of a message's From ("" without one).
func authorOf(m *mail.Message) string {
	from, _ := mail.ParseAddressList(m.Header.Get("From"))
	if len(from) == 0 {
		return ""
	}
	return from[0].Addr
}

// unsurePrefix opens the Unverifiable entry of a report taken whole by
// unsureWhole. The entry is stored with the report, so what reads a
// report later (the federation's border) knows it from it alone.
const unsurePrefix = "forward or spam:"

// UnsureOrigin reports whether a report's origin may be a forwarder's
// provider rather than the spam's: it was taken whole although it may be
// a person's forward (nobody declared which). Its relay is then either
// the phisher's or the innocent provider that carried a reporter's
// forward, and is not to be named to partners as the spam's origin.
func UnsureOrigin(unverifiable []string) bool {
	for _, u := range unverifiable {
		if strings.HasPrefix(u, unsurePrefix) {
			return true
		}
	}
	return false
}

// colleagueHandedBack reports whether a message from outside an
// organisation hands one of its people a made-up mail from a colleague of
// theirs to the message's own author ("Fwd:" from support@invoices-portal
// to compta@acme-corp above "From: p.martin@acme-corp, To:
// support@invoices-portal"): a person forwarding what they received
// writes from it to the desk, to themselves or to their own
// organisation, not back into the organisation the original came from.
// A complaint to that organisation's reporting address (its abuse@,
// phishing@) is a report.
func colleagueHandedBack(outer *mail.Message, from mail.Address, inner *mail.Message) bool {
	ifrom, _ := mail.ParseAddressList(inner.Header.Get("From"))
	if len(ifrom) == 0 || ifrom[0].Domain == "" || dnsname.SameOrg(ifrom[0].Domain, from.Domain) {
		return false
	}
	sent := false
	for _, f := range []string{"To", "Cc"} {
		list, _ := mail.ParseAddressList(inner.Header.Get(f))
		for _, a := range list {
			sent = sent || strings.EqualFold(a.Addr, from.Addr)
		}
	}
	if !sent {
		return false
	}
	for _, f := range []string{"To", "Cc"} {
		list, _ := mail.ParseAddressList(outer.Header.Get(f))
		for _, a := range list {
			if a.Domain != "" && dnsname.SameOrg(a.Domain, ifrom[0].Domain) && !strings.EqualFold(a.Addr, ifrom[0].Addr) && !reportingAddress(a.Addr) {
				return true
			}
		}
	}
	return false
}

// reportingRoles are local parts of addresses that take reports of spam
// and fraud (the desk's own report@ among them): a person forwards a spam
// there even when the spam claimed to come from it.
var reportingRoles = []string{"abuse", "phish", "spam", "report", "signal", "fraud", "security", "cert", "csirt", "postmaster", "complaint"}

// reportingAddress reports whether an address's local part names a
// reporting role as one of its words ("abuse@", "report-phishing@",
// "signal.spam@", "it-security@"): not a word that merely holds one
// ("certification@", "reporting@", "signalisation@", "spamalot@").
func reportingAddress(addr string) bool {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return false
	}
	for w := range strings.FieldsFuncSeq(strings.ToLower(addr[:at]), func(r rune) bool { return r == '.' || r == '-' || r == '_' || r == '+' }) {
		for _, r := range reportingRoles {
			if w == r || w == r+"s" || w == r+"ing" {
				return true
			}
		}
	}
	return false
}

// maxForwardDepth bounds how many forwards inside a forward are undone.
const maxForwardDepth = 3

// forwardedOriginal is the spam inside a forward of a forward: Bob
// forwards the spam he received to Alice, who forwards his forward to the
// desk. Taken as the spam, Bob's forward gave his provider's relay as the
// origin (an innocent IP shared as an indicator) and lost the spammer's.
// An item is unwrapped again only when it is its sender's forward of
// something sent to them: its From is one of the inner message's
// recipients, and it is not a phish carrying a made-up original
// (selfForward, asked at each level as at the first). A reporter's
// honest forward of such a phish stops at the phish: unwrapped once
// more, the phisher's domain and links were cut as a recipient's and the
// innocent "sender" of the made-up original was shared.
//
// forwarder is the From of the complaint the item came out of, the
// person who passed it on. What they forwarded is never their own mail:
// a level handing back to them a "forwarded" mail of theirs (p4, the
// phish quoting a made-up request from abuse@acme-corp, forwarded by
// abuse@acme-corp) is what they received. It is not unwrapped to the
// made-up mail — whose From is the forwarder and whose recipient, the
// phisher's own domain, would be cut as a person's, so nothing was shared
// — but taken as the spam, unsure: the same fields are someone asking
// whether the forwarder really sent what reached them, whose origin and
// From are theirs (UnsureOrigin).
func forwardedOriginal(it Item, forwarder string) Item {
	for range maxForwardDepth {
		m := mail.ParseBytes(it.Raw, mail.DefaultLimits())
		from, _ := mail.ParseAddressList(m.Header.Get("From"))
		if len(from) == 0 || from[0].Addr == "" {
			return it
		}
		var inner Item
		if items := extractAttached(m); len(items) == 1 && !deliveryNotice(m) {
			inner = items[0]
		} else if fw, ok := extractInlineForward(m, false); ok && len(items) == 0 {
			inner = fw
		} else {
			return it
		}
		// A level that is a phish carrying a made-up original is the
		// spam: judged as it would be uploaded on its own.
		if selfForward(m, inner.Raw) {
			return it
		}
		im := mail.ParseBytes(inner.Raw, mail.DefaultLimits())
		if forwarder != "" && strings.EqualFold(authorOf(im), forwarder) {
			it.unsure = true
			it.Unverifiable = append(slices.Clone(it.Unverifiable), unsureHandedBack)
			return it
		}
		sent := false
		for _, f := range []string{"To", "Cc", "Delivered-To", "X-Original-To"} {
			list, _ := mail.ParseAddressList(im.Header.Get(f))
			for _, a := range list {
				sent = sent || strings.EqualFold(a.Addr, from[0].Addr)
			}
		}
		if !sent {
			return it
		}
		// A level whose fields a phish and a person's forward both write
		// (unsureForward: "FW:" to the victim above a made-up mail sent
		// to its author, or Bob's forward to Alice) is not unwrapped
		// either: its made-up original would name the lawyer as the
		// spam's sender. It is the spam as far as the desk can tell, its
		// origin and From not the spam run's to share (UnsureOrigin).
		if unsureForward(m, inner.Raw, nil) {
			it.unsure = true
			it.Unverifiable = append(slices.Clone(it.Unverifiable), unsureLevel)
			return it
		}
		inner.Unverifiable = append(slices.Clone(it.Unverifiable), inner.Unverifiable...)
		inner.Forwarders = append(slices.Clone(it.Forwarders), m.Header.Get("From"))
		it = inner
	}
	return it
}
