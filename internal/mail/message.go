// Package mail parses one raw RFC 5322 / MIME message into a Message: its
// header fields, its MIME tree with every body decoded to bytes and every text
// part converted to UTF-8, and the Defects found on the way.
//
// The parser is deliberately lenient. Spam is often malformed on purpose, and
// a filter that stops at the first bad boundary (as the standard library's
// mime/multipart and emersion/go-message do) sees less than the mail client
// that will render the message. So the parser keeps going, records what was
// wrong as a Defect with a stable code, and the defects themselves become
// evidence for the analysis.
//
// Every input is untrusted. Limits bound the bytes read, the header size, the
// MIME depth, the number of parts and the total decoded size, so a hostile
// message costs bounded time and memory: each byte of the raw message is
// scanned at most once per MIME level, and there are at most MaxDepth levels.
package mail

import (
	"bytes"
	"fmt"
	"io"
)

// Limits bound the work done on one message.
type Limits struct {
	MaxBytes        int64 // Raw bytes read; the rest is ignored (defect "truncated").
	MaxHeaderBytes  int   // Bytes of one header block (top level or part).
	MaxHeaders      int   // Fields in one header block.
	MaxDepth        int   // Nesting of multiparts and attached messages.
	MaxParts        int   // Parts in the whole tree.
	MaxDecodedBytes int64 // Total decoded bytes over all parts.
	MaxTextBytes    int64 // Total bytes of text parts converted to UTF-8 (Part.Text).
}

// DefaultLimits are generous for real mail and small enough that a hostile
// message cannot exhaust a node.
func DefaultLimits() Limits {
	return Limits{
		MaxBytes:        32 << 20,
		MaxHeaderBytes:  512 << 10,
		MaxHeaders:      2000,
		MaxDepth:        16,
		MaxParts:        512,
		MaxDecodedBytes: 64 << 20,
		MaxTextBytes:    4 << 20,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxBytes <= 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = d.MaxHeaderBytes
	}
	if l.MaxHeaders <= 0 {
		l.MaxHeaders = d.MaxHeaders
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxParts <= 0 {
		l.MaxParts = d.MaxParts
	}
	if l.MaxDecodedBytes <= 0 {
		l.MaxDecodedBytes = d.MaxDecodedBytes
	}
	if l.MaxTextBytes <= 0 {
		l.MaxTextBytes = d.MaxTextBytes
	}
	return l
}

// Message is one parsed message.
type Message struct {
	Raw          []byte // Exactly the bytes read (at most Limits.MaxBytes).
	Truncated    bool   // The input was longer than Limits.MaxBytes.
	EnvelopeFrom string // The mbox "From " line, if the input started with one.
	Header       Header // Top-level header fields, in order.
	Root         *Part  // The top-level entity.
	Parts        []*Part
	Defects      []Defect
}

// Part is one MIME entity. For a message/rfc822 part, Children holds the
// attached message's root entity, with Embedded set.
type Part struct {
	ID          string // "1", "1.2", …; the root is "0" (not IMAP numbering).
	Header      Header
	ContentType string            // Lower-case media type, "text/plain" when absent.
	Params      map[string]string // Content-Type parameters, lower-case keys.
	Charset     string            // Declared charset, lower-case.
	Encoding    string            // Content-Transfer-Encoding, lower-case.
	Disposition string            // "inline", "attachment" or "".
	Filename    string            // From Content-Disposition or Content-Type name, decoded.
	Depth       int
	Embedded    bool   // Root of an attached message/rfc822.
	Body        []byte // Decoded body (transfer encoding removed); nil for multiparts; for message/rfc822 the embedded message.
	Text        string // UTF-8 text of text/* parts; beyond the text budget, its first and last parts (defect "text-limit").
	Children    []*Part
	Offset      int // Offset of the part's header in Message.Raw (-1: decoded, not a slice of Raw).
	End         int // Offset just past the part in Message.Raw (-1 when Offset is).
}

// IsMultipart reports whether p is a multipart container.
func (p *Part) IsMultipart() bool {
	return len(p.ContentType) > 10 && p.ContentType[:10] == "multipart/"
}

// IsText reports whether p is a text/* leaf.
func (p *Part) IsText() bool { return len(p.ContentType) > 5 && p.ContentType[:5] == "text/" }

// IsAttachment reports whether p is a leaf that a mail client would show as
// an attachment rather than as the message text.
func (p *Part) IsAttachment() bool {
	if p.IsMultipart() || p.Embedded || p.ContentType == "message/rfc822" {
		return false
	}
	if p.Disposition == "attachment" || p.Filename != "" {
		return true
	}
	return !p.IsText()
}

// Defect is one thing wrong with the message, found while parsing.
type Defect struct {
	Code   string `json:"code"`
	Part   string `json:"part,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// Defect codes. They are stable: rules, the classifier and users key on them.
const (
	DefectTruncated          = "truncated"                // Input longer than MaxBytes.
	DefectNoHeaderSeparator  = "missing-header-separator" // A non-header line inside the header block.
	DefectHeaderContinuation = "header-leading-continuation"
	DefectHeaderNameSpace    = "header-name-space"    // "Name : value".
	DefectHeaderNUL          = "header-nul"           // NUL byte in a header.
	DefectHeader8Bit         = "header-8bit"          // Raw non-UTF-8 bytes in a header.
	DefectHeaderLineLong     = "header-line-too-long" // Over 998 octets (RFC 5322 2.1.1).
	DefectHeaderLimit        = "header-limit"         // MaxHeaders or MaxHeaderBytes reached.
	DefectBareCR             = "bare-cr"              // CR not followed by LF in a header.
	DefectDuplicateSingleton = "duplicate-header"     // From, Subject, Date… more than once.
	DefectHeaderInjection    = "header-injection"     // Encoded CR/LF, or header text inside a value.
	DefectBadEncodedWord     = "bad-encoded-word"     // Malformed RFC 2047 word.
	DefectMissingFrom        = "missing-from"
	DefectMissingDate        = "missing-date"
	DefectBadDate            = "bad-date"
	DefectMissingMessageID   = "missing-message-id"
	DefectBadContentType     = "bad-content-type"
	DefectMissingBoundary    = "missing-boundary"       // multipart/* without a boundary.
	DefectBoundaryNotFound   = "boundary-not-found"     // No delimiter line in the body.
	DefectMissingCloseDelim  = "missing-close-boundary" // No "--boundary--" line.
	DefectBadBase64          = "bad-base64"
	DefectBadQP              = "bad-quoted-printable"
	DefectUnknownEncoding    = "unknown-encoding"
	DefectUnknownCharset     = "unknown-charset"
	DefectBadCharset         = "bad-charset-data" // Text not valid in its declared charset.
	DefectDepthLimit         = "depth-limit"
	DefectPartLimit          = "part-limit"
	DefectDecodedLimit       = "decoded-limit"
	DefectTextLimit          = "text-limit"        // Text parts over MaxTextBytes: the middle was left out.
	DefectMultipartEncoded   = "multipart-encoded" // A multipart with base64/QP encoding.
)

// Parse reads one message from r and parses it. It returns an error only when
// r fails; a malformed message still parses, with Defects.
func Parse(r io.Reader, lim Limits) (*Message, error) {
	lim = lim.withDefaults()
	raw, err := io.ReadAll(io.LimitReader(r, lim.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read message: %w", err)
	}
	return ParseBytes(raw, lim), nil
}

// ParseBytes parses a message already in memory. raw is kept, not copied.
func ParseBytes(raw []byte, lim Limits) *Message {
	lim = lim.withDefaults()
	m := &Message{}
	if int64(len(raw)) > lim.MaxBytes {
		raw = raw[:lim.MaxBytes]
		m.Truncated = true
		m.defect(DefectTruncated, "", fmt.Sprintf("message longer than %d bytes; the rest was not read", lim.MaxBytes))
	}
	m.Raw = raw
	body := raw
	if bytes.HasPrefix(body, []byte("From ")) {
		line, rest := cutLine(body)
		m.EnvelopeFrom = string(bytes.TrimRight(line, "\r\n"))
		body = rest
	}
	p := &parser{m: m, lim: lim}
	m.Root = p.parseEntity(body, len(raw)-len(body), 0, "0", "text/plain", false)
	m.Header = m.Root.Header
	p.checkTopHeader()
	return m
}

func (m *Message) defect(code, part, detail string) {
	// Bound the defect list too: a message with a million bad lines must not
	// produce a million defects.
	if len(m.Defects) >= 256 {
		return
	}
	m.Defects = append(m.Defects, Defect{Code: code, Part: part, Detail: detail})
}

// HasDefect reports whether a defect with the given code was found.
func (m *Message) HasDefect(code string) bool {
	for _, d := range m.Defects {
		if d.Code == code {
			return true
		}
	}
	return false
}

// TextParts returns the text/plain and text/html leaves in document order,
// excluding attachments.
func (m *Message) TextParts() []*Part {
	var out []*Part
	for _, p := range m.Parts {
		if p.IsText() && p.Disposition != "attachment" && p.Filename == "" {
			out = append(out, p)
		}
	}
	return out
}

// Attachments returns the leaves a client would show as attachments.
func (m *Message) Attachments() []*Part {
	var out []*Part
	for _, p := range m.Parts {
		if len(p.Children) == 0 && p.IsAttachment() {
			out = append(out, p)
		}
	}
	return out
}

// cutLine returns the first line of b including its "\n" and the rest.
func cutLine(b []byte) (line, rest []byte) {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		return b[:i+1], b[i+1:]
	}
	return b, nil
}

// MarkCut records that the message may be cut short for a reason its
// own bytes do not show (the container it came in ended before closing
// it): it is Truncated, with a "truncated" defect saying why.
func (m *Message) MarkCut(why string) {
	if m.Truncated {
		return
	}
	m.Truncated = true
	m.defect(DefectTruncated, "", why)
}

// MarkTruncated records that the input was cut at limit bytes before it
// reached the parser (an mbox reader or a network limit did it).
func (m *Message) MarkTruncated(limit int64) {
	if m.Truncated {
		return
	}
	m.Truncated = true
	m.defect(DefectTruncated, "", fmt.Sprintf("message longer than %d bytes; the rest was not read", limit))
}
