package label

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"io"
)

// Body returns the body of a raw message: what follows the first empty
// line. Bare LF line ends are read as CRLF (mail is signed in its wire
// form; stored mail often lost the CRs).
func Body(raw []byte) []byte {
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 && !bytes.Contains(raw[:i], []byte("\n\n")) {
		return crlf(raw[i+4:])
	}
	if i := bytes.Index(raw, []byte("\n\n")); i >= 0 {
		return crlf(raw[i+2:])
	}
	return nil
}

func crlf(b []byte) []byte {
	if bytes.Count(b, []byte("\n")) == bytes.Count(b, []byte("\r\n")) {
		return b
	}
	out := make([]byte, 0, len(b)+bytes.Count(b, []byte("\n")))
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}

// BodyHash is the DKIM body hash (RFC 6376 3.7, SHA-256, no l=) of a
// body under the canonicalization c: "simple" (3.4.3) or "relaxed"
// (3.4.4), base64 as in bh=.
func BodyHash(body []byte, c string) string {
	h := sha256.New()
	if c == "relaxed" {
		relaxedBody(h, body)
	} else {
		h.Write(simpleBody(body))
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// simpleBody removes empty lines at the end; an empty body is one CRLF.
func simpleBody(b []byte) []byte {
	for bytes.HasSuffix(b, []byte("\r\n\r\n")) {
		b = b[:len(b)-2]
	}
	if len(b) == 0 {
		return []byte("\r\n")
	}
	if !bytes.HasSuffix(b, []byte("\r\n")) {
		b = append(append([]byte(nil), b...), '\r', '\n')
	}
	return b
}

// relaxedBody writes the relaxed form in one pass: runs of spaces and tabs
// become one space, those before a line break go, line breaks after the
// last content go, and a non-empty body ends with CRLF. Line-break bytes
// are held back until content follows them, and a CR without LF counts as
// one, as go-msgauth (the verifier Accord runs) reads it.
func relaxedBody(w io.Writer, b []byte) {
	var buf [8192]byte
	out := buf[:0]
	put := func(c ...byte) {
		if len(out)+len(c) > cap(out) {
			w.Write(out)
			out = buf[:0]
		}
		out = append(out, c...)
	}
	var held []byte // line-break bytes held back
	wsp, written := false, false
	for _, c := range b {
		switch c {
		case ' ', '\t':
			wsp = true
		case '\r', '\n':
			wsp = false
			held = append(held, c)
		default:
			if len(held) > 0 {
				put(held...)
				held = held[:0]
			}
			if wsp {
				put(' ')
				wsp = false
			}
			put(c)
			written = true
		}
	}
	if written {
		put('\r', '\n')
	}
	w.Write(out)
}
