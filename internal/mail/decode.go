package mail

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/ianaindex"
)

// lookupCharset returns the decoder for a MIME charset name, or nil when the
// name is unknown. Names are tried as IANA names, with the "cs" alias prefix,
// and as WHATWG labels, which is how browsers (and so mail clients) resolve
// the mislabelled charsets common in spam.
func lookupCharset(name string) encoding.Encoding {
	name = strings.ToLower(strings.Trim(strings.TrimSpace(name), `"'`))
	switch name {
	case "", "us-ascii", "ascii", "utf-8", "utf8":
		return nil
	}
	if e, err := ianaindex.MIME.Encoding(name); err == nil && e != nil {
		return e
	}
	if e, err := htmlindex.Get(name); err == nil && e != nil {
		return e
	}
	if e, err := ianaindex.MIME.Encoding("cs" + name); err == nil && e != nil {
		return e
	}
	return nil
}

// KnownCharset reports whether text declared in charset name can be read
// as its sender meant (an unknown one is read as Windows-1252, a guess).
func KnownCharset(name string) bool { return knownCharset(name) }

func knownCharset(name string) bool {
	switch strings.ToLower(strings.Trim(strings.TrimSpace(name), `"'`)) {
	case "", "us-ascii", "ascii", "utf-8", "utf8":
		return true
	}
	return lookupCharset(name) != nil
}

// toUTF8 converts text in the named charset to UTF-8. Undeclared or unknown
// charsets with 8-bit bytes are read as Windows-1252, the de facto default
// of mail clients. ok is false when the data was not valid in its charset.
func toUTF8(charset string, b []byte) (s string, ok bool) {
	enc := lookupCharset(charset)
	if enc == nil {
		if utf8.Valid(b) {
			return string(b), true
		}
		c := strings.ToLower(strings.TrimSpace(charset))
		s, _ := charmap.Windows1252.NewDecoder().Bytes(b)
		return string(s), c != "utf-8" && c != "utf8"
	}
	if asciiSafe(enc) && isASCIIBytes(b) {
		// What the decoder would give, without its buffers: most text
		// labelled ISO-8859-1 or Windows-1252 is plain ASCII.
		return string(b), true
	}
	out, err := enc.NewDecoder().Bytes(b)
	if err != nil {
		return strings.ToValidUTF8(string(b), "\uFFFD"), false
	}
	return strings.ToValidUTF8(string(out), "\uFFFD"), true
}

// asciiCompatible caches, for each single-byte charset met, whether it
// reads every byte below 0x80 as that ASCII character (EBCDIC does not).
var asciiCompatible sync.Map // *charmap.Charmap → bool

// asciiSafe reports whether enc reads ASCII bytes as ASCII, one for one,
// so that ASCII text decodes to itself: a single-byte charset that does.
// Multi-byte ones are never taken to (ISO-2022-JP and HZ switch on ASCII
// escapes).
func asciiSafe(enc encoding.Encoding) bool {
	cm, ok := enc.(*charmap.Charmap)
	if !ok {
		return false
	}
	if v, ok := asciiCompatible.Load(cm); ok {
		return v.(bool)
	}
	safe := true
	for c := 0; c < utf8.RuneSelf; c++ {
		if cm.DecodeByte(byte(c)) != rune(c) {
			safe = false
			break
		}
	}
	asciiCompatible.Store(cm, safe)
	return safe
}

func isASCIIBytes(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// charsetReader converts any charset to UTF-8 for mime.WordDecoder, falling
// back to Windows-1252 for unknown names rather than failing.
func charsetReader(cs string, r io.Reader) (io.Reader, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	s, _ := toUTF8(cs, b)
	return strings.NewReader(s), nil
}

// errUnknownCharset reports an RFC 2047 word in a charset we do not know.
var errUnknownCharset = errors.New("mail: unknown charset in encoded word")

// DecodeHeader decodes RFC 2047 encoded words in a header value and returns
// valid UTF-8. Raw 8-bit text that is not UTF-8 is read as Windows-1252. The
// error is non-nil when a word used an unknown charset or was malformed; the
// string is then decoded as far as possible.
func DecodeHeader(v string) (string, error) {
	if !strings.Contains(v, "=?") {
		if utf8.ValidString(v) {
			return v, nil
		}
		s, _ := toUTF8("", []byte(v))
		return s, nil
	}
	var bad error
	dec := mime.WordDecoder{CharsetReader: func(cs string, r io.Reader) (io.Reader, error) {
		b, err := io.ReadAll(r)
		if err != nil {
			return nil, err
		}
		if !knownCharset(cs) {
			bad = errUnknownCharset
		}
		s, _ := toUTF8(cs, b)
		return strings.NewReader(s), nil
	}}
	out, err := dec.DecodeHeader(v)
	if err != nil {
		// A malformed word: decode word by word, leaving bad ones as text.
		out = decodeWordsLenient(&dec, v)
		bad = fmt.Errorf("mail: malformed encoded word: %w", err)
	}
	if !utf8.ValidString(out) {
		out, _ = toUTF8("", []byte(out))
	}
	return out, bad
}

func decodeWordsLenient(dec *mime.WordDecoder, v string) string {
	var b strings.Builder
	for len(v) > 0 {
		i := strings.Index(v, "=?")
		if i < 0 {
			b.WriteString(v)
			break
		}
		b.WriteString(v[:i])
		v = v[i:]
		j := strings.Index(v[2:], "?=")
		if j < 0 {
			b.WriteString(v)
			break
		}
		// An encoded word has exactly four '?' : =?cs?e?text?=
		end := 2 + j + 2
		if k := strings.Index(v[2:], "?"); k >= 0 {
			if l := strings.Index(v[2+k+1:], "?"); l >= 0 {
				start := 2 + k + 1 + l + 1
				if m := strings.Index(v[start:], "?="); m >= 0 {
					end = start + m + 2
				}
			}
		}
		w, err := dec.Decode(v[:end])
		if err != nil {
			b.WriteString(v[:end])
		} else {
			b.WriteString(w)
		}
		v = v[end:]
	}
	return b.String()
}

// decodeBase64 decodes leniently: whitespace and stray characters are
// skipped, missing padding is tolerated. bad reports stray characters or a
// dangling final character.
func decodeBase64(b []byte) (out []byte, bad bool) {
	// Decode in chunks of clean characters rather than cleaning a copy of
	// the whole body first: a 32 MiB part then costs its decoded size only.
	out = make([]byte, 0, len(b)/4*3+3)
	var chunk [4096]byte
	n := 0
	flush := func(final bool) {
		k := n
		if !final {
			k -= n % 4
		}
		if final && k%4 == 1 {
			k--
			bad = true
		}
		dst := out[len(out) : len(out)+base64.RawStdEncoding.DecodedLen(k)]
		m, err := base64.RawStdEncoding.Decode(dst, chunk[:k])
		if err != nil {
			bad = true
		}
		out = out[:len(out)+m]
		n = copy(chunk[:], chunk[k:n])
	}
	for _, c := range b {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
			chunk[n] = c
			n++
			if n == len(chunk) {
				flush(false)
			}
		case c == '=', c == ' ', c == '\t', c == '\r', c == '\n':
		default:
			bad = true
		}
	}
	flush(true)
	return out, bad
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// decodeQP decodes quoted-printable leniently: an "=" not followed by two hex
// digits or a line break is kept as is and reported.
func decodeQP(b []byte) (out []byte, bad bool) {
	out = make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c != '=' {
			out = append(out, c)
			continue
		}
		// Soft line break: "=" then optional transport padding then EOL.
		j := i + 1
		for j < len(b) && (b[j] == ' ' || b[j] == '\t') {
			j++
		}
		if j < len(b) && (b[j] == '\n' || b[j] == '\r') {
			if b[j] == '\r' && j+1 < len(b) && b[j+1] == '\n' {
				j++
			}
			i = j
			continue
		}
		if j >= len(b) {
			i = j
			continue
		}
		if i+2 < len(b) {
			h, ok1 := unhex(b[i+1])
			l, ok2 := unhex(b[i+2])
			if ok1 && ok2 {
				out = append(out, h<<4|l)
				i += 2
				continue
			}
		}
		bad = true
		out = append(out, '=')
	}
	return out, bad
}

// ParseDate parses an RFC 5322 date leniently: the standard form, obsolete
// forms with two-digit years and named zones, comments, and the asctime form
// old MTAs and spamware use.
func ParseDate(s string) (time.Time, error) {
	if t, ok := parseDateCommon(s); ok {
		return t, nil
	}
	if t, err := mail.ParseDate(s); err == nil {
		return t, nil
	}
	c := stripComments(s)
	c = strings.Join(strings.Fields(strings.ReplaceAll(c, ",", " ")), " ")
	// Drop a leading day name.
	if i := strings.IndexByte(c, ' '); i > 0 && i <= 9 && isAlpha(c[:i]) && !isMonth(c[:i]) {
		c = c[i+1:]
	}
	zone := ""
	if f := strings.Fields(c); len(f) > 0 {
		last := f[len(f)-1]
		if off, ok := namedZones[strings.ToUpper(last)]; ok {
			zone = off
			c = strings.Join(f[:len(f)-1], " ")
		}
	}
	for _, layout := range dateLayouts {
		in := c
		if zone != "" {
			if !strings.HasSuffix(layout, "-0700") {
				continue
			}
			in = c + " " + zone
		}
		if t, err := time.Parse(layout, in); err == nil {
			if t.Year() < 100 {
				// Two-digit years: RFC 5322 4.3.
				if t.Year() < 50 {
					t = t.AddDate(2000, 0, 0)
				} else {
					t = t.AddDate(1900, 0, 0)
				}
			}
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("mail: unparseable date %q", clip(s, 60))
}

// dayLayout is the common RFC 5322 date with a day name: "Sat, 28 Nov
// 2026 13:55:36 -0700".
const dayLayout = "Mon, 2 Jan 2006 15:04:05 -0700"

// parseDateCommon answers for the common form with a day name what
// net/mail.ParseDate answers, without the 24 failed parses of the layouts
// without one that it tries first (a third of the engine's date cost).
// It takes only a string that starts with the date and whose first "+"
// or "-" begins its zone, followed by nothing or by comments and white
// space: net/mail cuts the date at that zone and parses it with its first
// layout that has a day name, dayLayout, as every layout before it starts
// with a digit. Anything else is left to net/mail.
func parseDateCommon(s string) (time.Time, bool) {
	if s == "" || s[0] < 'A' || s[0] > 'Z' || strings.ContainsRune(s, '\r') {
		return time.Time{}, false
	}
	z := strings.IndexAny(s, "+-")
	if z < 0 || len(s) < z+5 || !restIsComments(s[z+5:]) {
		return time.Time{}, false
	}
	t, err := time.Parse(dayLayout, s[:z+5])
	return t, err == nil
}

// restIsComments reports whether s is white space and closed comments
// (" (PDT)"), which net/mail.ParseDate skips after the zone. Quoted pairs
// are left to net/mail.
func restIsComments(s string) bool {
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return true
		}
		if s[0] != '(' || strings.IndexByte(s, '\\') >= 0 {
			return false
		}
		depth := 0
		i := 0
		for ; i < len(s); i++ {
			if s[i] == '(' {
				depth++
			} else if s[i] == ')' {
				depth--
				if depth == 0 {
					break
				}
			}
		}
		if depth != 0 {
			return false
		}
		s = s[i+1:]
	}
}

var dateLayouts = []string{
	"2 Jan 2006 15:04:05 -0700",
	"2 Jan 2006 15:04 -0700",
	"2 Jan 06 15:04:05 -0700",
	"2 Jan 06 15:04 -0700",
	"2 January 2006 15:04:05 -0700",
	"Jan 2 2006 15:04:05 -0700",
	"Jan 2 15:04:05 2006 -0700",
	"2006-01-02 15:04:05 -0700",
	"2 Jan 2006 15:04:05",
	"2 Jan 2006 15:04",
	"2 Jan 06 15:04:05",
	"Jan 2 15:04:05 2006",
	"2006-01-02T15:04:05Z07:00",
	"2006-01-02 15:04:05",
	"2 Jan 2006",
}

// namedZones are the zone names of RFC 5322 4.3 plus common ones seen in
// old mail, as numeric offsets.
var namedZones = map[string]string{
	"UT": "+0000", "UTC": "+0000", "GMT": "+0000", "Z": "+0000",
	"EST": "-0500", "EDT": "-0400", "CST": "-0600", "CDT": "-0500",
	"MST": "-0700", "MDT": "-0600", "PST": "-0800", "PDT": "-0700",
	"BST": "+0100", "IST": "+0100", "CET": "+0100", "CEST": "+0200",
	"MET": "+0100", "MEST": "+0200", "EET": "+0200", "EEST": "+0300",
	"JST": "+0900", "KST": "+0900", "HKT": "+0800", "SGT": "+0800",
	"AEST": "+1000", "AEDT": "+1100", "NZST": "+1200", "NZDT": "+1300",
}

func stripComments(s string) string {
	if !strings.Contains(s, "(") {
		return s
	}
	var b strings.Builder
	depth := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '(':
			depth++
		case c == ')' && depth > 0:
			depth--
			b.WriteByte(' ')
		case depth == 0:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isAlpha(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return s != ""
}

func isMonth(s string) bool {
	if len(s) < 3 {
		return false
	}
	switch strings.ToLower(s[:3]) {
	case "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec":
		return true
	}
	return false
}
