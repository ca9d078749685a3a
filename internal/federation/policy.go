package federation

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Item is one thing that could leave the node: an indicator, a campaign
// summary, a report, a statistic or a piece of evidence. Its body is what
// travels; the other fields are what the policy reads.
type Item struct {
	Key          string    `json:"key"`  // Stable: "ind:ip:203.0.113.5", "camp:c-…", "rep:…", "ev:…", "stats:…".
	Kind         Kind      `json:"kind"` // Which clause of "share" it needs.
	TLP          TLP       `json:"tlp"`
	Origins      []string  `json:"origins,omitempty"` // Countries of origin (trace-back); empty when unknown.
	PersonalData bool      `json:"personal_data"`     // Carries data about reporters or recipients.
	Campaign     string    `json:"campaign,omitempty"`
	Count        int       `json:"count,omitempty"` // For statistics: the smallest cell; for indicators: the recipients whose reports it is seen in; for a campaign, its reports and evidence: the recipients whose reports the campaign holds.
	Updated      time.Time `json:"updated"`
	// Unshareable says why the item must never leave the node whatever an
	// agreement allows (evidence whose redaction could not be verified);
	// it does not travel.
	Unshareable string `json:"-"`
	// Withheld says why the node's analyst holds the item back (its
	// domain was marked as not the spammer's: Withheld); it does not
	// travel.
	Withheld   string `json:"-"`
	withheldBy string // The marked domain that withholds it.
	Body       []byte `json:"body"` // JSON; Hash is over these bytes.
	Hash       string `json:"hash"` // Hex SHA-256 of Body.
}

// Decision is the policy's answer for one item, with the clause that
// decided it, so every "not sent" has a visible reason.
type Decision struct {
	Allow  bool
	Clause string // The agreement setting that decided ("share", "tlp_max", …) or the peer state.
	Reason string
}

func (d Decision) String() string {
	verb := "deny"
	if d.Allow {
		verb = "allow"
	}
	return fmt.Sprintf("%s (%s: %s)", verb, d.Clause, d.Reason)
}

// PeerState is the part of a peer the policy needs.
type PeerState struct {
	Name   string
	Status Status
}

// Decide is the one function that decides whether an item may go to a
// peer. It denies unless every condition of the agreement holds; the first
// failing condition names the clause.
func Decide(a *Agreement, p PeerState, it Item, now time.Time) Decision {
	deny := func(clause, format string, args ...any) Decision {
		return Decision{Clause: clause, Reason: fmt.Sprintf(format, args...)}
	}
	if p.Status != StatusActive {
		return deny("peer", "peer %s is %s", p.Name, p.Status)
	}
	if a == nil {
		return deny("agreement", "no agreement with %s: nothing is shared by default", p.Name)
	}
	if !slices.Contains(a.Audience, p.Name) {
		if len(a.Audience) == 0 {
			return deny("audience", "the agreement's audience is empty: it shares with nobody")
		}
		return deny("audience", "the agreement's audience (%s) does not name %s", strings.Join(a.Audience, ", "), p.Name)
	}
	if !a.validFromParsed.zero() && now.Before(a.validFromParsed.start()) {
		return deny("valid_from", "the agreement applies from %s", a.ValidFrom)
	}
	if !a.validUntilParsed.zero() && !now.Before(a.validUntilParsed.end()) {
		return deny("valid_until", "the agreement expired after %s", a.ValidUntil)
	}
	if it.Withheld != "" {
		return deny("withheld", "%s", it.Withheld)
	}
	if !slices.Contains(a.Share, it.Kind) {
		return deny("share", "%s are not among the kinds shared (%s)", it.Kind, kindsOr(a.Share))
	}
	if !it.TLP.Valid() {
		return deny("tlp_max", "the item has no valid TLP marking")
	}
	if !it.TLP.AtMost(a.TLPMax) {
		return deny("tlp_max", "TLP:%s is above the ceiling TLP:%s", strings.ToUpper(string(it.TLP)), strings.ToUpper(string(a.TLPMax)))
	}
	if it.PersonalData && !a.PersonalData {
		return deny("personal_data", "it carries personal data of reporters or recipients, which the agreement does not allow")
	}
	if it.Unshareable != "" {
		return deny("personal_data", "%s", it.Unshareable)
	}
	if it.Kind == KindIndicators && a.MinReports > 1 && it.Count < a.MinReports {
		return deny("min_reports", "it is seen in reports of %d recipients, fewer than the %d the agreement asks", it.Count, a.MinReports)
	}
	if (it.Kind == KindCampaigns || it.Kind == KindReports || it.Kind == KindEvidence) && a.MinReports > 1 && it.Count < a.MinReports {
		return deny("min_reports", "its campaign holds reports of %d recipients, fewer than the %d the agreement asks", it.Count, a.MinReports)
	}
	if it.Kind == KindStatistics {
		if it.Count < a.MinAggregate {
			if it.Count == 0 {
				return deny("min_aggregate", "every count is below %d", a.MinAggregate)
			}
			return deny("min_aggregate", "its smallest count %d is below %d", it.Count, a.MinAggregate)
		}
		// Statistics name the origins they were counted over; none: every
		// origin, which only an agreement of any origin ("*") allows.
		if !originAllowed(a.Origins, it.Origins) {
			if len(it.Origins) == 0 {
				return deny("origins", "its counts span every origin, and the agreement shares by origin (%s)", orNoneList(a.Origins))
			}
			return deny("origins", "it counts spam from %s, not only the agreement's origins (%s)", strings.Join(it.Origins, ", "), orNoneList(a.Origins))
		}
	} else if !originAllowed(a.Origins, it.Origins) {
		if len(it.Origins) == 0 {
			return deny("origins", "its origin is unknown, and the agreement shares by origin (%s)", strings.Join(a.Origins, ", "))
		}
		return deny("origins", "its origin (%s) is not among the agreement's origins (%s)", strings.Join(it.Origins, ", "), orNoneList(a.Origins))
	}
	return Decision{Allow: true, Clause: "share", Reason: fmt.Sprintf("%s at TLP:%s under %s v%d", it.Kind, strings.ToUpper(string(it.TLP)), a.ID, a.Version)}
}

func kindsOr(ks []Kind) string {
	if len(ks) == 0 {
		return "none"
	}
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

func orNoneList(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// EU member states, for agreements that name the EU as an origin.
var euMembers = map[string]bool{
	"AT": true, "BE": true, "BG": true, "HR": true, "CY": true, "CZ": true, "DK": true, "EE": true, "FI": true,
	"FR": true, "DE": true, "GR": true, "HU": true, "IE": true, "IT": true, "LV": true, "LT": true, "LU": true,
	"MT": true, "NL": true, "PL": true, "PT": true, "RO": true, "SK": true, "SI": true, "ES": true, "SE": true,
}

// originAllowed: every origin of the item must be allowed (an item that
// mixes an allowed origin with another would leak the other).
func originAllowed(allowed, origins []string) bool {
	if len(allowed) == 0 {
		return false
	}
	if slices.Contains(allowed, "*") {
		return true
	}
	if len(origins) == 0 {
		return false
	}
	for _, o := range origins {
		if !slices.Contains(allowed, o) && !(euMembers[o] && slices.Contains(allowed, "EU")) {
			return false
		}
	}
	return true
}

// dateOnly is a calendar date in UTC.
type dateOnly struct{ t time.Time }

func parseDate(s string) (dateOnly, error) {
	if s == "" {
		return dateOnly{}, nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return dateOnly{}, fmt.Errorf("%q is not a date YYYY-MM-DD", s)
	}
	return dateOnly{t}, nil
}

// Phase says where now falls in the agreement's validity: "before" its
// valid_from, "expired" from the end of its valid_until, "in force"
// otherwise. What Decide allows changes with time only when the phase
// does: a cache of what an agreement allows (a TAXII collection) is
// stale when the phase it was computed in is not the phase now.
func (a *Agreement) Phase(now time.Time) string {
	switch {
	case a == nil:
		return ""
	case !a.validFromParsed.zero() && now.Before(a.validFromParsed.start()):
		return "before"
	case !a.validUntilParsed.zero() && !now.Before(a.validUntilParsed.end()):
		return "expired"
	}
	return "in force"
}

func (d dateOnly) zero() bool       { return d.t.IsZero() }
func (d dateOnly) start() time.Time { return d.t }
func (d dateOnly) end() time.Time   { return d.t.AddDate(0, 0, 1) }
