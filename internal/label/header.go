package label

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
)

// BoundHeaders are the header fields a label binds besides the body: the
// sender's identity, the recipient and the opt-out that lint judged, and
// the fields that decide how the body is read. A message with the same
// body and another From, To, Subject, List-Unsubscribe or MIME structure
// (a Content-Type with another boundary shows another part of the same
// bytes) is another message, and the label does not fit it.
var BoundHeaders = []string{"From", "Sender", "Reply-To", "To", "Cc", "Subject", "List-Unsubscribe", "List-Unsubscribe-Post",
	"MIME-Version", "Content-Type", "Content-Transfer-Encoding"}

// HeaderHash is the hh= value of a raw message: base64 SHA-256 over every
// instance of each of BoundHeaders, in that order of names and in the
// message's order within a name, each in DKIM's relaxed header
// canonicalization (RFC 6376 3.4.2) with its CRLF. An absent field adds
// nothing. A field's name is what precedes its colon, trailing white space
// removed ("Subject : x" is a Subject, as RFC 5322's obsolete syntax, DKIM
// and Accord's own parser read it).
func HeaderHash(raw []byte) string {
	fields := headerFields(raw)
	h := sha256.New()
	for _, name := range BoundHeaders {
		for _, f := range fields {
			if strings.EqualFold(strings.TrimRight(f[0], " \t"), name) {
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
// continuation lines kept in the value; it stops where Accord's parser
// does, at a line that is neither a field nor a continuation (a label is
// refused for such a header: see HeaderProblem).
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
		if !ok || !validName(strings.TrimRight(name, " \t")) {
			break
		}
		out = append(out, [2]string{name, val})
	}
	return out
}

func validName(n string) bool {
	if n == "" {
		return false
	}
	for i := 0; i < len(n); i++ {
		if c := n[i]; c < 33 || c > 126 {
			return false
		}
	}
	return true
}

// HeaderProblem says why a message's header cannot be labelled, or "":
// a line in the header block that is neither a field nor a continuation
// (readers disagree on where the header ends and what is body), white
// space before a field's colon, or a field that must be single (From,
// To, Subject…) given twice (readers disagree on which one counts).
// Issuing refuses such a message, and verifying finds it invalid.
func HeaderProblem(raw []byte) string {
	end := len(raw)
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		end = i
	}
	if i := bytes.Index(raw, []byte("\n\n")); i >= 0 && i < end {
		end = i
	}
	seen := map[string]bool{}
	for i, line := range strings.Split(strings.ReplaceAll(string(raw[:end]), "\r\n", "\n"), "\n") {
		if line == "" || line[0] == ' ' || line[0] == '\t' {
			if i == 0 && line != "" {
				return "the header starts with a continuation line"
			}
			continue
		}
		name, _, ok := strings.Cut(line, ":")
		trimmed := strings.TrimRight(name, " \t")
		switch {
		case !ok || !validName(trimmed):
			return fmt.Sprintf("the header holds a line that is not a field (%.40q): readers disagree on where the body starts", line)
		case trimmed != name:
			return fmt.Sprintf("the field %q has white space before its colon", trimmed)
		}
		k := strings.ToLower(trimmed)
		if singleton[k] && seen[k] {
			return fmt.Sprintf("the header has %s twice: readers disagree on which one counts", trimmed)
		}
		seen[k] = true
	}
	return ""
}

// singleton are the fields RFC 5322 3.6 allows once, and the MIME fields
// that decide how the body is read.
var singleton = map[string]bool{"from": true, "sender": true, "reply-to": true, "to": true, "cc": true, "subject": true,
	"list-unsubscribe": true, "list-unsubscribe-post": true, "mime-version": true, "content-type": true, "content-transfer-encoding": true}
