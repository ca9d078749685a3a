package filter

import (
	"fmt"
	"strings"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/mailauth"
)

// Header is a field to add to the delivered message.
type Header struct {
	Name, Value string
}

// RemoveHeaders are the fields the filter removes from incoming mail
// before adding its own: a sender must not be able to forge the filter's
// verdict. Authentication-Results is removed only when it carries our
// authserv-id (RFC 8601 §5).
// The release mark (ReleaseField) is removed too, valid or not: it has
// done its work once Check has seen it.
var RemoveHeaders = []string{"X-Spam-Flag", "X-Spam-Status", "X-Spam-Score", "X-Spam", "X-Spam-Report", "X-Accord-Filter", "X-Accord-Reference", "X-Accord-Status", ReleaseField}

// OwnAuthResults reports whether an Authentication-Results value claims to
// come from us.
func (s *Service) OwnAuthResults(value string) bool {
	id := strings.TrimSpace(value)
	if i := strings.IndexAny(id, "; \t\r\n"); i >= 0 {
		id = id[:i]
	}
	return strings.EqualFold(id, s.cfg.AuthServID)
}

// Headers are the fields a delivered copy gets, for a decision whose
// delivered recipients' strongest tag is outcome. Restricted symbols
// (TLP:AMBER and above) are summed into one anonymous entry: their names,
// values and sources never leave the provider in a header.
func (s *Service) Headers(d *Decision, outcome string) []Header {
	if d.Released != nil {
		return []Header{{"X-Accord-Filter", "released: " + d.Released.ID + " (by its recipient; not scanned again); ref=" + d.Reference}}
	}
	if d.Skipped != "" {
		h := []Header{{"X-Accord-Filter", "skipped: " + d.Skipped + "; ref=" + d.Reference}}
		return h
	}
	if outcome == OutcomeOff {
		return nil
	}
	// X-Spam-Status and X-Spam-Flag keep SpamAssassin's value space
	// (Yes/No), which Sieve and procmail rules test; Accord's own band —
	// ham, unsure, spam — is in X-Accord-Status.
	flag, status, band := "NO", "No", "ham"
	switch outcome {
	case OutcomeSpam, OutcomeQuarantine, OutcomeReject:
		flag, status, band = "YES", "Yes", "spam"
	case OutcomeUnsure:
		band = "unsure"
	}
	var tests []string
	restricted := 0.0
	for _, sy := range d.Symbols {
		if sy.Restricted {
			restricted += sy.Score
			continue
		}
		tests = append(tests, fmt.Sprintf("%s=%.2f", sy.Name, sy.Score))
	}
	if restricted != 0 {
		tests = append(tests, fmt.Sprintf("ACCORD_INTEL_RESTRICTED=%.2f", restricted))
	}
	score := d.Score
	req := d.Required
	hs := []Header{
		{"X-Spam-Flag", flag},
		{"X-Spam-Score", fmt.Sprintf("%.2f", score)},
		{"X-Spam-Status", fmt.Sprintf("%s, score=%.2f required=%.2f tests=%s version=%s", status, score, req, strings.Join(tests, ","), orNone(s.cfg.Version))},
	}
	if flag == "YES" {
		hs = append(hs, Header{"X-Spam", "Yes"})
	}
	hs = append(hs, Header{"X-Accord-Status", band})
	hs = append(hs, Header{"X-Accord-Reference", d.Reference})
	if d.AuthResults != "" {
		hs = append(hs, Header{"Authentication-Results", d.AuthResults})
	}
	return hs
}

// RejectText is the SMTP reply text of a rejection: the reason and the
// reference a sender can quote to the provider.
func (s *Service) RejectText(d *Decision) string {
	return fmt.Sprintf("5.7.1 Message refused as spam (score %.2f, reference %s); if this is a mistake, ask the recipient's provider, quoting the reference", d.Score, d.Reference)
}

// authResults renders the results the engine computed itself as an
// Authentication-Results value (RFC 8601) under our authserv-id. Results
// it read from the message's own fields (or an ARC set) are the writer's
// claims, never re-issued in our name.
func authResults(id string, v *analysis.Verdict) string {
	if v == nil || v.Auth == nil {
		return ""
	}
	a := v.Auth
	var parts []string
	if a.SPF.Result != "" && a.SPF.Source == mailauth.SourceComputed {
		p := "spf=" + string(a.SPF.Result)
		if a.SPF.Domain != "" {
			if a.SPF.Identity == "helo" {
				p += " smtp.helo=" + a.SPF.Domain
			} else {
				p += " smtp.mailfrom=" + a.SPF.Domain
			}
		}
		parts = append(parts, p)
	}
	for _, sg := range a.DKIM {
		if sg.Source != mailauth.SourceComputed {
			continue
		}
		parts = append(parts, "dkim="+string(sg.Result)+" header.d="+sg.Domain+" header.s="+sg.Selector)
	}
	if a.DMARC.Result != "" && a.DMARC.Source == mailauth.SourceComputed {
		p := "dmarc=" + string(a.DMARC.Result)
		if a.DMARC.Applied != "" {
			p += " (p=" + string(a.DMARC.Applied) + ")"
		}
		if a.DMARC.Domain != "" {
			p += " header.from=" + a.DMARC.Domain
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return id + "; none"
	}
	return id + "; " + strings.Join(parts, ";\n\t")
}
