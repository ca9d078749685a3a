package federation

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/accord-antispam/accord/internal/iso3166"
)

// Kind is a kind of data that may flow to a peer.
type Kind string

// The kinds, from the least to the most sensitive.
const (
	KindStatistics Kind = "statistics" // Aggregate counts, small cells suppressed.
	KindIndicators Kind = "indicators" // IPs, domains, URLs, sender addresses, fingerprints.
	KindCampaigns  Kind = "campaigns"  // Campaign summaries.
	KindReports    Kind = "reports"    // Report details: the verdict without any address.
	KindEvidence   Kind = "evidence"   // The reported message's bytes (redacted) and its hash.
)

// Kinds lists every kind.
var Kinds = []Kind{KindStatistics, KindIndicators, KindCampaigns, KindReports, KindEvidence}

// TLP is a Traffic Light Protocol 2.0 level.
type TLP string

// TLP 2.0 levels, in order.
const (
	TLPClear       TLP = "clear"
	TLPGreen       TLP = "green"
	TLPAmber       TLP = "amber"
	TLPAmberStrict TLP = "amber+strict"
	TLPRed         TLP = "red"
)

var tlpRank = map[TLP]int{TLPClear: 0, TLPGreen: 1, TLPAmber: 2, TLPAmberStrict: 3, TLPRed: 4}

// Valid reports whether t is a TLP 2.0 level.
func (t TLP) Valid() bool { _, ok := tlpRank[t]; return ok }

// AtMost reports whether t is no more restrictive than max.
func (t TLP) AtMost(max TLP) bool {
	a, ok1 := tlpRank[t]
	b, ok2 := tlpRank[max]
	return ok1 && ok2 && a <= b
}

// Agreement is a memorandum of understanding with one peer in machine form:
// what may flow to that peer, why, and under which conditions. Everything
// it does not allow is denied.
type Agreement struct {
	ID      string `toml:"id"`      // The MoU's reference.
	Version int    `toml:"version"` // Increases with every change.
	// Audience names the peers the agreement covers. An empty audience
	// shares with nobody (an empty sharing group must never mean "all").
	Audience     []string `toml:"audience"`
	Purposes     []string `toml:"purposes"`
	LegalBasis   string   `toml:"legal_basis"`
	Share        []Kind   `toml:"share"`   // Kinds that may flow.
	TLPMax       TLP      `toml:"tlp_max"` // The most restrictive marking that may flow.
	PersonalData bool     `toml:"personal_data"`
	// Origins are the jurisdictions (ISO 3166 alpha-2, "EU" for any EU
	// member) whose spam may be shared: a campaign or report flows only when
	// its origin is one of them. "*" means any origin.
	Origins       []string `toml:"origins"`
	RetentionDays int      `toml:"retention_days"` // How long the receiver may keep what it gets.
	// KeepWithdrawnDays is how long the receiver may keep an item after
	// it is withdrawn (the agreement narrowed, or this node no longer
	// holds it); 0 purges it at once.
	KeepWithdrawnDays int  `toml:"keep_withdrawn_days"`
	OnwardSharing     bool `toml:"onward_sharing"` // Whether the receiver may pass it on.
	MinAggregate      int  `toml:"min_aggregate"`  // Smallest count a statistic may show (default 5).
	// MinReports is how many recipients' reports an indicator must be
	// seen in to flow (default 1; reports whose recipients are the same
	// addresses count once, and so do all reports that name none). One
	// report is one reporter's word: a firm's genuine signed mail (a
	// password reset, a newsletter) reported once names the firm, and its
	// signature is real. At 2, a second recipient must bear it out.
	MinReports       int       `toml:"min_reports"`
	ValidFrom        string    `toml:"valid_from"`  // YYYY-MM-DD, optional.
	ValidUntil       string    `toml:"valid_until"` // YYYY-MM-DD, optional.
	Deadlines        Deadlines `toml:"deadlines"`
	Raw              string    `toml:"-"` // The file as given.
	validFromParsed  dateOnly
	validUntilParsed dateOnly

	// TrustLabels makes this node accept the peer's compliance labels
	// (signed with the peer's key, checked against the peer's status
	// list); without it a peer's label counts for nothing here.
	TrustLabels bool `toml:"trust_labels"`
}

// Deadlines for mutual assistance, in days; zero means the CPC defaults
// (30 days for information, 180 for enforcement measures).
type Deadlines struct {
	InformationDays int `toml:"information_days"`
	EnforcementDays int `toml:"enforcement_days"`
}

// ParseAgreement reads an agreement file. Unknown keys, unknown kinds,
// unknown TLP levels and malformed origins are errors: a typo must never
// widen what is shared.
func ParseAgreement(b []byte) (*Agreement, error) {
	var a Agreement
	md, err := toml.Decode(string(b), &a)
	if err != nil {
		return nil, fmt.Errorf("agreement: %w", err)
	}
	if u := md.Undecoded(); len(u) > 0 {
		return nil, fmt.Errorf("agreement: unknown setting %q", u[0].String())
	}
	a.Raw = string(b)
	if err := a.validate(); err != nil {
		return nil, err
	}
	return &a, nil
}

func (a *Agreement) validate() error {
	if strings.TrimSpace(a.ID) == "" {
		return fmt.Errorf("agreement: id is required (the MoU's reference)")
	}
	if a.Version < 1 {
		return fmt.Errorf("agreement %s: version must be 1 or more", a.ID)
	}
	for _, k := range a.Share {
		if !slices.Contains(Kinds, k) {
			return fmt.Errorf("agreement %s: unknown kind %q in share (want %s)", a.ID, k, kindList())
		}
	}
	if a.TLPMax == "" {
		a.TLPMax = TLPClear
	}
	if !a.TLPMax.Valid() {
		return fmt.Errorf("agreement %s: tlp_max %q is not a TLP 2.0 level (clear, green, amber, amber+strict, red)", a.ID, a.TLPMax)
	}
	for i, o := range a.Origins {
		o = strings.ToUpper(strings.TrimSpace(o))
		if o != "*" && o != "EU" {
			if err := iso3166.Check(o); err != nil {
				return fmt.Errorf("agreement %s: origin: %w (or EU, or *)", a.ID, err)
			}
		}
		a.Origins[i] = o
	}
	if a.MinAggregate < 0 {
		return fmt.Errorf("agreement %s: min_aggregate %d cannot be negative (absent or 0: 5)", a.ID, a.MinAggregate)
	}
	if a.MinAggregate == 0 {
		a.MinAggregate = 5
	}
	if a.MinReports < 0 {
		return fmt.Errorf("agreement %s: min_reports %d cannot be negative (absent or 0: 1)", a.ID, a.MinReports)
	}
	if a.MinReports == 0 {
		a.MinReports = 1
	}
	if a.RetentionDays < 0 || a.KeepWithdrawnDays < 0 || a.Deadlines.InformationDays < 0 || a.Deadlines.EnforcementDays < 0 {
		return fmt.Errorf("agreement %s: days cannot be negative", a.ID)
	}
	if a.RetentionDays > MaxTermDays || a.KeepWithdrawnDays > MaxTermDays {
		return fmt.Errorf("agreement %s: retention_days and keep_withdrawn_days are at most %d (ten years)", a.ID, MaxTermDays)
	}
	var err error
	if a.validFromParsed, err = parseDate(a.ValidFrom); err != nil {
		return fmt.Errorf("agreement %s: valid_from: %w", a.ID, err)
	}
	if a.validUntilParsed, err = parseDate(a.ValidUntil); err != nil {
		return fmt.Errorf("agreement %s: valid_until: %w", a.ID, err)
	}
	return nil
}

func kindList() string {
	s := make([]string, len(Kinds))
	for i, k := range Kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// CheckJurisdiction accepts an assigned ISO 3166 alpha-2 code or EU.
func CheckJurisdiction(s string) error {
	if s == "EU" {
		return nil
	}
	return iso3166.Check(s)
}

// InformationDeadline and EnforcementDeadline return the response times in
// days, the CPC Regulation's defaults unless the agreement says otherwise.
func (a *Agreement) InformationDeadline() int {
	if a == nil || a.Deadlines.InformationDays == 0 {
		return 30
	}
	return a.Deadlines.InformationDays
}

// EnforcementDeadline: see InformationDeadline.
func (a *Agreement) EnforcementDeadline() int {
	if a == nil || a.Deadlines.EnforcementDays == 0 {
		return 180
	}
	return a.Deadlines.EnforcementDays
}

// Diff lists, in words, how b differs from a: what an operator must read
// before a changed agreement applies.
func Diff(a, b *Agreement) []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if a == nil {
		a = &Agreement{}
	}
	if a.ID != b.ID {
		add("id: %q → %q", a.ID, b.ID)
	}
	if a.Version != b.Version {
		add("version: %d → %d", a.Version, b.Version)
	}
	setDiff := func(name string, x, y []string) {
		for _, v := range y {
			if !slices.Contains(x, v) {
				add("%s: + %s", name, v)
			}
		}
		for _, v := range x {
			if !slices.Contains(y, v) {
				add("%s: − %s", name, v)
			}
		}
	}
	strs := func(ks []Kind) []string {
		s := make([]string, len(ks))
		for i, k := range ks {
			s[i] = string(k)
		}
		return s
	}
	setDiff("audience", a.Audience, b.Audience)
	setDiff("share", strs(a.Share), strs(b.Share))
	setDiff("origins", a.Origins, b.Origins)
	setDiff("purposes", a.Purposes, b.Purposes)
	if a.TLPMax != b.TLPMax {
		add("tlp_max: %s → %s", orNone(string(a.TLPMax)), b.TLPMax)
	}
	if a.PersonalData != b.PersonalData {
		add("personal_data: %v → %v", a.PersonalData, b.PersonalData)
	}
	if a.LegalBasis != b.LegalBasis {
		add("legal_basis: %q → %q", a.LegalBasis, b.LegalBasis)
	}
	if a.RetentionDays != b.RetentionDays {
		add("retention_days: %d → %d", a.RetentionDays, b.RetentionDays)
	}
	if a.KeepWithdrawnDays != b.KeepWithdrawnDays {
		add("keep_withdrawn_days: %d → %d", a.KeepWithdrawnDays, b.KeepWithdrawnDays)
	}
	if a.OnwardSharing != b.OnwardSharing {
		add("onward_sharing: %v → %v", a.OnwardSharing, b.OnwardSharing)
	}
	if a.TrustLabels != b.TrustLabels {
		add("trust_labels: %v → %v", a.TrustLabels, b.TrustLabels)
	}
	if a.MinAggregate != b.MinAggregate {
		add("min_aggregate: %d → %d", a.MinAggregate, b.MinAggregate)
	}
	if a.MinReports != b.MinReports {
		add("min_reports: %d → %d", a.MinReports, b.MinReports)
	}
	if a.ValidFrom != b.ValidFrom || a.ValidUntil != b.ValidUntil {
		add("validity: %s..%s → %s..%s", orNone(a.ValidFrom), orNone(a.ValidUntil), orNone(b.ValidFrom), orNone(b.ValidUntil))
	}
	if a.InformationDeadline() != b.InformationDeadline() || a.EnforcementDeadline() != b.EnforcementDeadline() {
		add("deadlines: information %d → %d days, enforcement %d → %d days", a.InformationDeadline(), b.InformationDeadline(),
			a.EnforcementDeadline(), b.EnforcementDeadline())
	}
	sort.Strings(out)
	return out
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// Encode writes the agreement as TOML (for a template).
func (a *Agreement) Encode() string {
	var b bytes.Buffer
	toml.NewEncoder(&b).Encode(a)
	return b.String()
}

// ErrNotAudience: an agreement is put in force for a peer its audience
// does not name. The policy would deny everything to that peer (and
// withdraw what it holds): an agreement written for another partner,
// applied by mistake, is refused instead.
var ErrNotAudience = errors.New("federation: the agreement's audience does not name this peer")

// Covers says whether the agreement may be put in force for peer: its
// audience names it.
func (a *Agreement) Covers(peer string) error {
	if a == nil || slices.Contains(a.Audience, peer) {
		return nil
	}
	return fmt.Errorf("%w: agreement %s names %s, not %s", ErrNotAudience, a.ID, orNoneList(a.Audience), peer)
}
