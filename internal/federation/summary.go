package federation

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
)

// summaryMax is the most characters of a one-line summary.
const summaryMax = 100

// Summary is one line saying what an item holds — the indicator, the
// campaign's subject and size, the report's subject and origin, the
// evidence's size, the statistics' totals — for lists an analyst reads
// (`accord received`). A received item's body comes from a partner: it is
// read defensively, and control characters (terminal escapes) never pass.
func (it Item) Summary() string {
	if len(it.Body) == 0 {
		return "(purged: only the key and hash are kept)"
	}
	var s string
	switch it.Kind {
	case KindIndicators:
		var b indicator
		if json.Unmarshal(it.Body, &b) != nil {
			break
		}
		s = fmt.Sprintf("%s %s, %d reports", b.Type, b.Value, b.Reports)
	case KindCampaigns:
		var b campaignBody
		if json.Unmarshal(it.Body, &b) != nil {
			break
		}
		s = fmt.Sprintf("%d reports, %s to %s: %q", b.Reports, day(b.FirstSeen.Format("2006-01-02")), day(b.LastSeen.Format("2006-01-02")), b.Subject)
	case KindReports:
		var b reportBody
		if json.Unmarshal(it.Body, &b) != nil {
			break
		}
		origin := b.OriginIP
		if b.OriginCountry != "" {
			origin += " (" + b.OriginCountry + ")"
		}
		s = fmt.Sprintf("%q from %s via %s, %d findings", b.Subject, orUnknown(b.FromDomain), orUnknown(origin), len(b.Findings))
	case KindEvidence:
		var b evidenceBody
		if json.Unmarshal(it.Body, &b) != nil {
			break
		}
		s = fmt.Sprintf("redacted message of %d bytes, original sha256 %s", base64.StdEncoding.DecodedLen(len(b.Redacted)), shortHash(b.MessageSHA256))
	case KindStatistics:
		var b StatsBody
		if json.Unmarshal(it.Body, &b) != nil {
			break
		}
		count := func(p *int) string {
			if p == nil {
				return "below " + fmt.Sprint(b.MinCount)
			}
			return fmt.Sprint(*p)
		}
		s = fmt.Sprintf("%s reports, %s campaigns, %d origins, %d cells suppressed", count(b.Reports), count(b.Campaigns), len(b.ByOrigin), b.Suppressed)
	}
	if s == "" {
		s = "(a body this node cannot read as " + string(it.Kind) + ")"
	}
	return oneLine(s, summaryMax)
}

func day(s string) string {
	if strings.HasPrefix(s, "0001-") {
		return "?"
	}
	return s
}

func orUnknown(s string) string {
	if strings.TrimSpace(s) == "" {
		return "?"
	}
	return s
}

func shortHash(h string) string {
	if len(h) > 12 {
		return h[:12] + "…"
	}
	return h
}

// oneLine keeps s on one line of at most n characters, every control or
// format character (escapes, bidirectional overrides) a space.
func oneLine(s string, n int) string {
	var b strings.Builder
	i := 0
	for _, r := range s {
		if i == n {
			b.WriteString("…")
			break
		}
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			r = ' '
		}
		b.WriteRune(r)
		i++
	}
	return b.String()
}
