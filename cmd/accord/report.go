package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/rules"
	"github.com/accord-antispam/accord/internal/trace"
)

// pathMarks are the trust marks of the Received path, one per boundary place.
var pathMarks = map[trace.Place]string{"inside": "trusted", "origin": "ORIGIN", "beyond": "claim", "client-written": "client"}

// writePath prints the Received path, newest first, one line per hop: its
// number (as in the JSON), trust mark, client, receiver and why it is
// placed there, with its flags under it.
func writePath(w io.Writer, o analysis.Origin) {
	for i, h := range o.Hops {
		label := ""
		if i == 0 {
			label = "Path"
		}
		client := strings.Join(nonEmpty(h.IP, h.RDNS, helo(h.HELO)), " ")
		if client == "" {
			client = orNone(h.From)
		}
		line := fmt.Sprintf("hop %d %-8s %s -> %s", h.Index, "["+pathMarks[h.Boundary]+"]", client, orNone(h.By))
		if h.Protocol != "" {
			line += " (" + h.Protocol + ")"
		}
		fmt.Fprintf(w, "%-11s %s\n", label, line)
		fmt.Fprintf(w, "%-11s     %s\n", "", h.Why)
		for _, f := range h.Flags {
			fmt.Fprintf(w, "%-11s     %s: %s (%s)\n", "", f.Severity, f.Reason, f.Code)
		}
	}
}

// writeReport prints a verdict for a person: one block per message, one
// line per concern, details indented under it.
func writeReport(w io.Writer, v *analysis.Verdict) {
	p := func(label, format string, a ...any) {
		fmt.Fprintf(w, "%-11s %s\n", label, fmt.Sprintf(format, a...))
	}
	more := func(format string, a ...any) { fmt.Fprintf(w, "%-11s %s\n", "", fmt.Sprintf(format, a...)) }

	fmt.Fprintf(w, "== %s\n", v.Source)
	m := v.Message
	date := m.Date
	if m.DateParsed != nil {
		date = m.DateParsed.Format("2006-01-02 15:04 MST")
	}
	p("Message", "%s", strings.Join(nonEmpty(quote(m.Subject), m.MessageID, date, size(m.Size), fmt.Sprintf("%d MIME part(s)", len(m.MIME))), " · "))
	if len(m.Defects) > 0 {
		var d []string
		for _, x := range m.Defects {
			s := x.Code
			if x.Part != "" {
				s += " (part " + x.Part + ")"
			}
			d = append(d, s)
		}
		p("Defects", "%s", strings.Join(uniqStrings(d), ", "))
	}

	o := v.Origin
	if o.IP == "" {
		p("Origin", "no untrusted relay found (%d Received field(s), trust %s)", len(o.Hops), o.Trust)
	} else {
		parts := []string{o.IP}
		if o.RDNS != "" || o.HELO != "" {
			parts[0] += " (" + strings.Join(nonEmpty(o.RDNS, helo(o.HELO)), ", ") + ")"
		}
		if o.Country != "" {
			parts = append(parts, o.Country)
		}
		if o.Network != nil {
			parts = append(parts, fmt.Sprintf("AS%d %s", o.Network.ASN, o.Network.Name))
		}
		if o.Hop >= 0 {
			parts = append(parts, fmt.Sprintf("hop %d", o.Hop))
		}
		if o.Authenticated {
			parts = append(parts, "authenticated")
		}
		parts = append(parts, "trust "+o.Trust)
		p("Origin", "%s", strings.Join(parts, " · "))
	}
	if o.Why != "" {
		more("%s", o.Why)
	}
	if o.ForwardedBy != "" {
		more("forwarded by %s", o.ForwardedBy)
	}
	writePath(w, o)

	if a := v.Auth; a != nil {
		spf := "SPF " + string(a.SPF.Result)
		if a.SPF.Domain != "" {
			spf += " (" + a.SPF.Domain + ")"
		}
		dk := []string{}
		for _, s := range a.DKIM {
			dk = append(dk, fmt.Sprintf("DKIM %s/%s %s", s.Domain, s.Selector, s.Result))
		}
		if len(dk) == 0 {
			dk = append(dk, "DKIM none (unsigned)")
		}
		dm := "DMARC " + string(a.DMARC.Result)
		if a.DMARC.Applied != "" {
			dm += " (policy " + a.DMARC.Applied + ")"
		}
		parts := append(append([]string{spf}, dk...), dm)
		if len(a.ARC.Sets) > 0 {
			parts = append(parts, "ARC "+string(a.ARC.Result))
		}
		line := strings.Join(parts, " · ")
		if a.Offline {
			line += " · offline"
		}
		p("Auth", "%s", line)
	}

	s := v.Sender
	p("Sender", "%s", strings.Join(nonEmpty(
		"From: "+orNone(addrs(s.From)),
		pre("Reply-To: ", addrs(s.ReplyTo)),
		pre("Return-Path: ", s.ReturnPath)), " · "))
	p("", "identity disguised: %s", s.IdentityDisguised)
	for _, f := range s.Findings {
		more("  %s: %s", f.Strength, f.Detail)
	}

	p("Opt-out", "valid: %s — %s", v.OptOut.Valid, v.OptOut.Why)
	if v.OptOut.OneClick {
		more("RFC 8058 one-click unsubscribe%s", map[bool]string{true: ", covered by a passing DKIM signature", false: ""}[v.OptOut.OneClickSigned])
	}
	p("Commercial", "likely: %s%s", v.Commercial.Likely, pre(" — ", strings.Join(v.Commercial.Signals, "; ")))

	c := v.Content
	cs := []string{fmt.Sprintf("%d URL(s)", len(c.URLs))}
	if len(c.Domains) > 0 {
		d := c.Domains
		if len(d) > 6 {
			d = append(d[:6:6], fmt.Sprintf("+%d more", len(c.Domains)-6))
		}
		cs[0] += " on " + strings.Join(d, ", ")
	}
	if len(c.Emails) > 0 {
		cs = append(cs, fmt.Sprintf("%d e-mail address(es)", len(c.Emails)))
	}
	if len(c.Phones) > 0 {
		cs = append(cs, "phones "+strings.Join(c.Phones, ", "))
	}
	p("Content", "%s", strings.Join(cs, " · "))
	for _, at := range c.Attachments {
		more("attachment %s (%s, %s, %d bytes)%s", quote(at.Name), at.ContentType, at.DetectedType, at.Size, pre(" — ", strings.Join(at.Flags, ", ")))
	}

	for _, j := range v.Legal {
		p("Legal "+j.Jurisdiction, "%s", j.Rulebook)
		rs := append([]rules.Assessment(nil), j.Rules...)
		order := map[rules.Status]int{rules.StatusBreach: 0, rules.StatusNeedsContext: 1, rules.StatusOK: 2}
		sort.SliceStable(rs, func(a, b int) bool { return order[rs[a].Status] < order[rs[b].Status] })
		for _, r := range rs {
			more("%-13s %s — %s [%s]", r.Status, r.Rule, r.Title, r.Citation)
		}
	}
	if v.Spam != nil {
		line := fmt.Sprintf("%.3f %s (ham < %.2f ≤ unsure < %.2f ≤ spam; %d trained)", v.Spam.Score, v.Spam.Class, v.Spam.Thresholds.Ham, v.Spam.Thresholds.Spam, v.Spam.Trained)
		p("Spam", "%s", line)
		var pro, con []string
		for _, r := range v.Spam.Reasons {
			s := fmt.Sprintf("%s %+.2f", r.Feature, r.Weight)
			if r.Weight > 0 {
				pro = append(pro, s)
			} else {
				con = append(con, s)
			}
		}
		if len(pro) > 0 {
			more("for spam: %s", strings.Join(pro, ", "))
		}
		if len(con) > 0 {
			more("against:  %s", strings.Join(con, ", "))
		}
	}
	var codes []string
	for _, r := range v.Reasons {
		codes = append(codes, string(r.Code))
	}
	if len(codes) > 0 {
		p("Reasons", "%s", strings.Join(uniqStrings(codes), ", "))
	}
	fmt.Fprintln(w)
}

func helo(s string) string {
	if s == "" {
		return ""
	}
	return "HELO " + s
}

func quote(s string) string {
	if s == "" {
		return ""
	}
	return "\"" + s + "\""
}

func pre(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}

func size(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

func addrs(a []mail.Address) string {
	var out []string
	for _, x := range a {
		if x.Name != "" {
			out = append(out, fmt.Sprintf("%q <%s>", x.Name, x.Addr))
		} else {
			out = append(out, x.Addr)
		}
	}
	return strings.Join(out, ", ")
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func nonEmpty(s ...string) []string {
	var out []string
	for _, x := range s {
		if x != "" {
			out = append(out, x)
		}
	}
	return out
}

func uniqStrings(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
