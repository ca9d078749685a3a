package label

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"strings"
)

// BoundHeaders are the header fields a label binds besides the body: the
// sender's identity and the opt-out that lint judged. A message with the
// same body and another From, Subject or List-Unsubscribe is another
// message, and the label does not fit it.
var BoundHeaders = []string{"From", "Sender", "Reply-To", "Subject", "List-Unsubscribe", "List-Unsubscribe-Post"}

// HeaderHash is the hh= value of a raw message: base64 SHA-256 over every
// instance of each of BoundHeaders, in that order of names and in the
// message's order within a name, each in DKIM's relaxed header
// canonicalization (RFC 6376 3.4.2) with its CRLF. An absent field adds
// nothing.
func HeaderHash(raw []byte) string {
	fields := headerFields(raw)
	h := sha256.New()
	for _, name := range BoundHeaders {
		for _, f := range fields {
			if strings.EqualFold(f[0], name) {
				h.Write([]byte(RelaxedHeader(f[0], f[1])))
			}
		}
	}
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// RelaxedHeader canonicalizes one field as DKIM's "relaxed" (RFC 6376
// 3.4.2): the name lower-cased and trimmed, the value unfolded, runs of
// whitespace made one space, trimmed at both ends; "name:value\r\n".
func RelaxedHeader(name, value string) string {
	value = strings.NewReplacer("\r\n", "", "\n", "").Replace(value)
	return strings.ToLower(strings.TrimRight(name, " \t")) + ":" + strings.Join(strings.FieldsFunc(value, func(r rune) bool { return r == ' ' || r == '\t' }), " ") + "\r\n"
}

// headerFields splits a message's header into (name, raw value) pairs,
// continuation lines kept in the value.
func headerFields(raw []byte) [][2]string {
	end := len(raw)
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		end = i
	}
	if i := bytes.Index(raw, []byte("\n\n")); i >= 0 && i < end {
		end = i
	}
	var out [][2]string
	for _, line := range strings.SplitAfter(string(raw[:end]), "\n") {
		if line == "" {
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && len(out) > 0 {
			out[len(out)-1][1] += line
			continue
		}
		name, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		out = append(out, [2]string{name, val})
	}
	return out
}
