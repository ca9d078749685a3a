package main

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/mail"
)

// unwrap returns the messages a report carries — an ARF feedback report,
// an X-ARF report (mail or JSON), a forward with the message attached — so
// that check analyses the reported message rather than the report around
// it, with the complaint desk's own extraction. Anything else is returned
// as it is. Reported messages are named REPORT#arf (REPORT#arf-2… when
// there are several).
func unwrap(rm rawMessage, lim mail.Limits) []rawMessage {
	if !mayWrap(rm.raw, lim) {
		return []rawMessage{rm}
	}
	items, err := intake.Extract(rm.raw, intake.Via{Mailbox: true})
	if err != nil || len(items) == 0 {
		return []rawMessage{rm}
	}
	var out []rawMessage
	for i, it := range items {
		switch it.Form {
		case intake.FormARF, intake.FormXARF, intake.FormAttached:
		default:
			continue // inline forwards and pastes lose the headers: analyse what was given
		}
		name := fmt.Sprintf("%s#%s", rm.source, it.Form)
		if len(items) > 1 {
			name = fmt.Sprintf("%s#%s-%d", rm.source, it.Form, i+1)
		}
		out = append(out, rawMessage{source: name, raw: it.Raw,
			wrapper: &analysis.Wrapper{Source: rm.source, Form: it.Form, Feedback: it.Feedback}})
	}
	if len(out) == 0 {
		return []rawMessage{rm}
	}
	return out
}

// mayWrap is a cheap look at the header (and the start of a JSON
// document) before the full extraction: most inputs are plain messages.
func mayWrap(raw []byte, lim mail.Limits) bool {
	if t := bytes.TrimSpace(raw[:min(len(raw), 64)]); len(t) > 0 && t[0] == '{' {
		return true // X-ARF as JSON
	}
	h := headerOnly(raw, lim)
	ct := strings.ToLower(h.Get("Content-Type"))
	switch {
	case strings.Contains(ct, "multipart/report"), h.Has("X-ARF"):
		return true
	case strings.HasPrefix(strings.TrimSpace(ct), "multipart/"):
		return bytes.Contains(bytes.ToLower(raw), []byte("message/rfc822"))
	}
	return false
}
