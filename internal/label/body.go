package label

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
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
		body = relaxedBody(body)
	} else {
		body = simpleBody(body)
	}
	h.Write(body)
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

// relaxedBody turns runs of spaces and tabs into one space, drops them at
// line ends, removes empty lines at the end, and ends a non-empty body
// with CRLF.
func relaxedBody(b []byte) []byte {
	out := make([]byte, 0, len(b))
	lines := bytes.Split(b, []byte("\r\n"))
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1] // the split after the last CRLF
	}
	for _, ln := range lines {
		wsp := false
		for _, c := range ln {
			if c == ' ' || c == '\t' {
				wsp = true
				continue
			}
			if wsp {
				out = append(out, ' ')
				wsp = false
			}
			out = append(out, c)
		}
		out = append(out, '\r', '\n')
	}
	for bytes.HasSuffix(out, []byte("\r\n\r\n")) {
		out = out[:len(out)-2]
	}
	if bytes.Equal(out, []byte("\r\n")) {
		return nil
	}
	return out
}
