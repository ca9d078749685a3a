// Package record reads, from a delivered message, the final receiving
// provider's own record of the connection it accepted: the truth that
// bench/modern.sh and the modern-mail test hold Accord's verdicts against.
//
// The record is taken only from a field the final receiver wrote, found by
// where that provider writes it, not by Accord's trace-back:
//
//   - Microsoft 365 / Outlook.com, when the topmost Received field is
//     written by one of its hosts (*.outlook.com, *.office365.com): the
//     topmost Authentication-Results naming "sender IP is X" (decoded when
//     Exchange encoded the whole field), else its X-Sender-IP field.
//   - Gmail, when every Received field above its topmost "by mx.google.com"
//     field is Gmail's own internal hand-over ("by 2002:…" with no client):
//     the client-ip= of the Received-SPF field it writes directly below that
//     Received field, and the results of the mx.google.com
//     Authentication-Results field that follows it.
//
// A message whose final receiver is neither (or wrote no such field) has
// no record: a record another provider wrote further down — a forwarder's
// Microsoft 365 tenant, say — is not the final receiver's and is not used.
//
// The origin is checked against a field Accord's trace-back does not read
// (it walks the Received chain). The SPF and DMARC results are the very
// fields an offline Accord reads its results from: that agreement compares
// two readers of one field, not two checks of the authentication.
package record

import (
	"regexp"
	"strings"

	"github.com/accord-antispam/accord/internal/mail"
)

// Truth is one message's record.
type Truth struct {
	Provider string // "Microsoft 365", "Gmail"
	IP       string // the connecting address the provider recorded
	// SPF and DMARC are its results, mapped to the RFC 8601 names as
	// docs/verdict.md documents; "" when it wrote none.
	SPF, DMARC string
	// DMARCFrom is the header.from domain the DMARC result is for.
	DMARCFrom string
	Field     string // the field the address came from
}

var (
	senderIP   = regexp.MustCompile(`(?i)sender IP is ([0-9a-f:.]+)`)
	clientIP   = regexp.MustCompile(`(?i)client-ip=([0-9a-f:.]+)`)
	result     = regexp.MustCompile(`(?i)(?:^|[;\s])(spf|dmarc)\s*=\s*([a-z]+)([^;]*)`)
	headerFrom = regexp.MustCompile(`(?i)header\.from=([^\s;()]+)`)
	byHost     = regexp.MustCompile(`(?i)(?:^|\s)by\s+([^\s;()]+)`)
	fromWord   = regexp.MustCompile(`(?i)^\s*from\s`)
	microsoft  = regexp.MustCompile(`(?i)\.(outlook|office365)\.com$`)
)

// Read returns the final receiver's record, and false when there is none.
func Read(h mail.Header) (Truth, bool) {
	recv := h.Indexes("Received")
	if len(recv) == 0 {
		return Truth{}, false
	}
	top := by(h.Fields[recv[0]].Value)
	switch {
	case microsoft.MatchString(top):
		return readMicrosoft(h)
	case strings.HasPrefix(top, "2002:") || strings.EqualFold(top, "mx.google.com"):
		return readGmail(h, recv)
	}
	return Truth{}, false
}

func readMicrosoft(h mail.Header) (Truth, bool) {
	t := Truth{Provider: "Microsoft 365"}
	for _, v := range h.Values("Authentication-Results") {
		if s := strings.TrimSpace(v); strings.HasPrefix(s, "=?") {
			if d, err := mail.DecodeHeader(s); err == nil {
				v = d
			}
		}
		m := senderIP.FindStringSubmatch(v)
		if m == nil {
			continue
		}
		t.IP, t.Field = m[1], "Authentication-Results (sender IP is)"
		t.SPF, t.DMARC, t.DMARCFrom = results(v)
		return t, true
	}
	if ip := strings.TrimSpace(h.Get("X-Sender-IP")); ip != "" {
		t.IP, t.Field = ip, "X-Sender-IP"
		return t, true
	}
	return Truth{}, false
}

func readGmail(h mail.Header, recv []int) (Truth, bool) {
	for _, i := range recv {
		v := h.Fields[i].Value
		if strings.EqualFold(by(v), "mx.google.com") {
			return gmailBelow(h, i)
		}
		// Above it only Gmail's own hand-overs: "by 2002:… with SMTP id …".
		if fromWord.MatchString(v) || !strings.HasPrefix(by(v), "2002:") {
			return Truth{}, false
		}
	}
	return Truth{}, false
}

func gmailBelow(h mail.Header, at int) (Truth, bool) {
	t := Truth{Provider: "Gmail"}
	if at+1 >= len(h.Fields) || !strings.EqualFold(h.Fields[at+1].Name, "Received-SPF") {
		return Truth{}, false
	}
	m := clientIP.FindStringSubmatch(h.Fields[at+1].Value)
	if m == nil {
		return Truth{}, false
	}
	t.IP, t.Field = m[1], "Received-SPF (client-ip)"
	for i := at + 2; i < len(h.Fields) && i <= at+3; i++ {
		f := h.Fields[i]
		if strings.EqualFold(f.Name, "Authentication-Results") && strings.HasPrefix(strings.ToLower(strings.TrimSpace(f.Value)), "mx.google.com;") {
			t.SPF, t.DMARC, t.DMARCFrom = results(f.Value)
			break
		}
	}
	return t, true
}

func by(v string) string {
	if m := byHost.FindStringSubmatch(v); m != nil {
		return strings.ToLower(m[1])
	}
	return ""
}

// results reads the spf= and dmarc= results of one field, mapped as the
// engine documents: bestguesspass -> none, hardfail, reject and quarantine
// -> fail, timeout -> temperror; and the domain the DMARC result is for.
func results(v string) (spf, dmarc, dmarcFrom string) {
	for _, r := range result.FindAllStringSubmatch(v, -1) {
		val := strings.ToLower(r[2])
		switch val {
		case "bestguesspass":
			val = "none"
		case "hardfail", "reject", "quarantine":
			val = "fail"
		case "timeout":
			val = "temperror"
		}
		if strings.EqualFold(r[1], "spf") {
			if spf == "" {
				spf = val
			}
		} else if dmarc == "" {
			dmarc = val
			if m := headerFrom.FindStringSubmatch(r[3]); m != nil {
				dmarcFrom = strings.ToLower(strings.TrimSuffix(m[1], "."))
			}
		}
	}
	return spf, dmarc, dmarcFrom
}
