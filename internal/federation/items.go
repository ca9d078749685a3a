package federation

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/privacy"
	"github.com/accord-antispam/accord/internal/rules"
)

// Group is a set of items signed together (one package): a campaign with
// its reports and evidence, all indicators, or the statistics.
type Group struct {
	ID    string
	Items []Item
}

// Source is the complaint desk as the federation reads it. A round reads
// its index once, whatever the number of peers and TAXII pages, and in
// full only the reports it has not derived its items from yet.
type Source interface {
	// SharedIndex calls fn for every report the node holds, grouped by
	// campaign and in order of arrival within each (then by id), with
	// the address of its reporter ("" when anonymous): its reference
	// only, never its message or analysis. An error from fn stops the
	// walk.
	SharedIndex(ctx context.Context, fn func(r ReportRef) error) error
	// SharedReports calls fn for each report of ids still held, in full
	// (message and analysis), with its reporter as intake.ReporterMailbox
	// gives them (address, and display name when the complaint's From
	// has it; "" when anonymous), in any order; ids no longer held are skipped. An error from fn stops the
	// walk.
	SharedReports(ctx context.Context, ids []string, fn func(r *intake.Report, reporter string) error) error
	// SharedVersion changes whenever the set of reports does (a report
	// added or erased): what was collected under an equal version is
	// still current.
	SharedVersion(ctx context.Context) (string, error)
}

// Markings and personal-data flags of each kind of item: the node's own
// classification, which agreements are then checked against.
const (
	tlpIndicator = TLPGreen
	tlpCampaign  = TLPAmber
	tlpReport    = TLPAmber
	tlpEvidence  = TLPAmberStrict
	tlpStats     = TLPClear
	minCell      = 5 // Statistics never show a count below this, whatever an agreement says.
	topCounts    = 20
)

type indicator struct {
	Type    string    `json:"type"` // "ipv4-addr", "ipv6-addr", "domain-name", "url"
	Value   string    `json:"value"`
	Reports int       `json:"reports"`
	First   time.Time `json:"first_seen"`
	Last    time.Time `json:"last_seen"`
	Origins []string  `json:"origins,omitempty"`
}

type campaignBody struct {
	ID        string         `json:"id"`
	Subject   string         `json:"subject"`
	Reports   int            `json:"reports"`
	FirstSeen time.Time      `json:"first_seen"`
	LastSeen  time.Time      `json:"last_seen"`
	Countries []intake.Count `json:"countries"`
	Networks  []intake.Count `json:"networks"`
	Senders   []intake.Count `json:"sender_domains"`
	Domains   []intake.Count `json:"link_domains"`
	Findings  []intake.Count `json:"findings"`
	Source    string         `json:"source"` // The reporting node's jurisdiction.
}

type reportBody struct {
	ID            string   `json:"id"`
	Campaign      string   `json:"campaign"`
	ReceivedAt    string   `json:"received_at"`
	Channel       string   `json:"channel"`
	Form          string   `json:"form"`
	Subject       string   `json:"subject"`
	FromDomain    string   `json:"from_domain"`
	OriginIP      string   `json:"origin_ip"`
	OriginCountry string   `json:"origin_country"`
	OriginASN     uint32   `json:"origin_asn,omitempty"`
	OriginNetwork string   `json:"origin_network,omitempty"`
	Forged        bool     `json:"forged_hops"`
	Disguised     string   `json:"identity_disguised"`
	OptOutValid   string   `json:"opt_out_valid"`
	Commercial    string   `json:"commercial"`
	Findings      []string `json:"findings"`
	Breaches      []string `json:"breaches"` // "EU/eu-consent: breach"
	SpamScore     *float64 `json:"spam_score,omitempty"`
	MessageSHA256 string   `json:"message_sha256"`
	Unverifiable  []string `json:"unverifiable,omitempty"`
}

type evidenceBody struct {
	Report         string `json:"report"`
	MessageSHA256  string `json:"message_sha256"`  // Of the original, as received.
	RedactedSHA256 string `json:"redacted_sha256"` // Of the bytes below.
	Redacted       string `json:"redacted"`        // Base64 of the message with its people redacted.
}

// StatsBody is the statistics item: counts of the node's reports, every
// count at least the agreement's min_aggregate. Cells below it are folded
// into "other" (and, when that alone would still be small, so are the
// next smallest cells), so no suppressed count can be recomputed from the
// others and the totals.
type StatsBody struct {
	Reports    *int           `json:"reports,omitempty"`   // Absent when below the threshold.
	Campaigns  *int           `json:"campaigns,omitempty"` // Absent when below the threshold.
	ByOrigin   []intake.Count `json:"reports_by_origin"`   // Countries; "other" holds the folded cells.
	Suppressed int            `json:"cells_suppressed"`    // Cells folded into "other" or withheld.
	MinCount   int            `json:"min_count"`           // The threshold applied.
	Source     string         `json:"source"`
}

func mkItem(key string, kind Kind, tlp TLP, origins []string, personal bool, camp string, updated time.Time, body any) Item {
	b, _ := json.Marshal(body)
	return Item{Key: key, Kind: kind, TLP: tlp, Origins: origins, PersonalData: personal, Campaign: camp,
		Updated: updated.UTC(), Body: b, Hash: HashBody(b)}
}

// Shared is everything the node could share at one moment: computed once
// and then decided for each peer under its agreement. Evidence items are
// held by their hash, not their body: Bodies makes the bodies of those an
// envelope carries.
type Shared struct {
	Version      string // The source's version it was computed from.
	withheld     string // The domains withheld it was computed under (withheldVersion).
	Groups       []Group
	jurisdiction string
	recs         []statRec      // Every report, as the statistics count it, oldest first.
	src          Source         // Where evidence bodies are made from (Bodies).
	lazy         map[string]int // Evidence items kept without their body: key -> body size.
}

// statRec is what the statistics know of one report.
type statRec struct {
	at                    time.Time
	id, country, campaign string
}

// tally is what the statistics show: counts over a set of reports.
type tally struct {
	byOrigin  map[string]int // Reports by origin country ("unknown" when none).
	reports   int
	campaigns int
	last      time.Time
}

// ItemsFor returns the groups a peer under agreement a is decided on:
// the shared groups and the statistics with a's threshold applied.
func (s *Shared) ItemsFor(a *Agreement) []Group {
	out := append([]Group(nil), s.Groups...)
	if len(s.recs) == 0 {
		return out
	}
	k := minCell
	if a != nil && a.MinAggregate > k {
		k = a.MinAggregate
	}
	if a == nil || len(a.Origins) == 0 || slices.Contains(a.Origins, "*") {
		return append(out, Group{ID: "statistics", Items: []Item{s.statistics(s.recs, k, "")}})
	}
	// An agreement limited to some origins gets statistics of those
	// origins only: cells, totals and campaigns counted over the reports
	// whose trace-back origin it names (an unknown origin is none of
	// them), as every other kind it receives. Counts of spam from other
	// countries are outside what it agreed to.
	scope := slices.Clone(a.Origins)
	slices.Sort(scope)
	var recs []statRec
	for _, r := range s.recs {
		if r.country != "" && originAllowed(scope, []string{r.country}) {
			recs = append(recs, r)
		}
	}
	it := s.statistics(recs, k, strings.Join(scope, ","))
	it.Origins = scope
	return append(out, Group{ID: "statistics", Items: []Item{it}})
}

// statistics builds the statistics item at threshold k. It counts the
// oldest reports in whole quanta of k (k = max(5, min_aggregate)): the
// oldest ⌊N/k⌋·k of the N reports held. So the item changes only when k
// more reports have come, and two consecutive versions — TAXII serves
// every one, a partner keeps them all — differ by a batch of k reports, an
// aggregate no smaller than the agreement allows any count to be; they
// never tell which cell one new report went into, as they did when every
// report made a new version. The quantum is k itself, not a fixed 5: the
// first version then comes at exactly k reports and every later one counts
// at least k, so the item is there whenever the node holds k reports (with
// a fixed 5 and min_aggregate 6, 7 reports would count 5 and show
// nothing). The cost is that up to k-1 of the newest reports wait for
// their batch.
//
// recs are the reports counted (oldest first); scope names the origins
// they were limited to ("" for all), and makes the item's key: a scoped
// item is another item, never a version of the whole one.
func (s *Shared) statistics(recs []statRec, k int, scope string) Item {
	it := tallyOf(recs[:len(recs)/k*k]).item(k, s.jurisdiction)
	if scope != "" {
		it.Key += ":" + scope
	}
	return it
}

// tallyOf counts reports.
func tallyOf(recs []statRec) tally {
	t := tally{byOrigin: map[string]int{}}
	camps := map[string]bool{}
	for _, r := range recs {
		c := r.country
		if c == "" {
			c = "unknown"
		}
		t.byOrigin[c]++
		t.reports++
		camps[r.campaign] = true
		if r.at.After(t.last) {
			t.last = r.at
		}
	}
	t.campaigns = len(camps)
	return t
}

// item is the statistics item of the tally at threshold k: no count
// under k is shown.
func (t tally) item(k int, jurisdiction string) Item {
	body := StatsBody{MinCount: k, Source: jurisdiction, ByOrigin: []intake.Count{}}
	if t.reports >= k {
		n := t.reports
		body.Reports = &n
	}
	if t.campaigns >= k {
		n := t.campaigns
		body.Campaigns = &n
	}
	var cells []intake.Count
	for c, n := range t.byOrigin {
		cells = append(cells, intake.Count{Value: c, N: n})
	}
	sort.Slice(cells, func(i, j int) bool {
		return cells[i].N > cells[j].N || cells[i].N == cells[j].N && cells[i].Value < cells[j].Value
	})
	other, folded := 0, 0
	for len(cells) > 0 && cells[len(cells)-1].N < k {
		other += cells[len(cells)-1].N
		cells = cells[:len(cells)-1]
		folded++
	}
	// A lone small cell would be the total minus the others: fold the
	// next smallest in until "other" can be shown.
	for other > 0 && other < k && len(cells) > 0 {
		other += cells[len(cells)-1].N
		cells = cells[:len(cells)-1]
		folded++
	}
	body.ByOrigin = append(body.ByOrigin, cells...)
	if other >= k {
		body.ByOrigin = append(body.ByOrigin, intake.Count{Value: "other", N: other})
	}
	body.Suppressed = folded
	sort.SliceStable(body.ByOrigin, func(i, j int) bool { return body.ByOrigin[i].Value < body.ByOrigin[j].Value })
	smallest := 0
	for _, c := range body.ByOrigin {
		if smallest == 0 || c.N < smallest {
			smallest = c.N
		}
	}
	if body.Reports != nil && (smallest == 0 || *body.Reports < smallest) {
		smallest = *body.Reports
	}
	it := mkItem(fmt.Sprintf("stats:origins:k%d", k), KindStatistics, tlpStats, nil, false, "", t.last, body)
	it.Count = smallest // 0: nothing could be shown
	return it
}

// campaignAcc gathers a campaign while its reports are read.
type campaignAcc struct {
	id                                             string
	subject                                        string
	reports                                        int
	first, last                                    time.Time
	countries, networks, senders, domains, finding map[string]int
	origins                                        []string
	unknown                                        bool
	addrs, mentioned, names                        []string // The people of its reports.
	recipients                                     *voices  // Its reports' reporters and recipient sets: what min_reports counts.
	items                                          []Item
}

func count(m map[string]int, v string) {
	if v != "" {
		m[v]++
	}
}

// top lists the most frequent values (ties by value), leaving out those
// that drop says identify a person.
func top(m map[string]int, drop func(string) bool) []intake.Count {
	out := []intake.Count{}
	for v, n := range m {
		if drop == nil || !drop(v) {
			out = append(out, intake.Count{Value: v, N: n})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].N > out[j].N || out[i].N == out[j].N && out[i].Value < out[j].Value })
	if len(out) > topCounts {
		out = out[:topCounts]
	}
	return out
}

// Collect builds every item the node could share, reading every report
// in full: a one-off collection (a command run once). A node keeps a
// Collector (Service.Collect), which reads only what changed since its
// last collection. Everything about the people a report concerns — its
// recipients and its reporter — is removed here, at the border, by the
// privacy package: subjects lose their addresses and names, links are cut
// back to the spam run, addresses and domains of those people never
// become indicators, and evidence is a redacted copy whose redaction is
// checked again (an unproven one is never shared). The bodies are
// deterministic, so an unchanged item keeps its hash and is never sent
// twice. jurisdiction is this node's, named in the bodies.
func Collect(ctx context.Context, src Source, jurisdiction string) (*Shared, error) {
	return NewCollector(src, jurisdiction).Collect(ctx)
}

func reportOf(r *intake.Report, people privacy.People) reportBody {
	b := reportBody{ID: r.ID, Campaign: r.CampaignID, ReceivedAt: r.ReceivedAt.UTC().Format(time.RFC3339), Channel: string(r.Channel),
		Form: r.Form, MessageSHA256: r.SHA256, Unverifiable: r.Unverifiable, Findings: []string{}, Breaches: []string{}}
	v := r.Verdict
	if v == nil {
		return b
	}
	b.Subject = people.Text(v.Message.Subject)
	d, why := spamSender(r)
	if !people.HoldsDomain(d) {
		b.FromDomain = d
	}
	if why != "" {
		b.Unverifiable = append(slices.Clip(b.Unverifiable), why)
	}
	b.Forged = v.Origin.Forged
	// A report taken whole because it may be a person's forward has as
	// its origin the phisher's relay or the forwarder's provider's (Bob's
	// provider, carrying his forward to Alice): neither is named to
	// partners, in the item as in the indicators (intake.UnsureOrigin).
	if !intake.UnsureOrigin(r.Unverifiable) {
		b.OriginIP, b.OriginCountry = v.Origin.IP, v.Origin.Country
		if v.Origin.Network != nil {
			b.OriginASN, b.OriginNetwork = v.Origin.Network.ASN, v.Origin.Network.Name
		}
	}
	b.Disguised = v.Sender.IdentityDisguised.String()
	b.OptOutValid = v.OptOut.Valid.String()
	b.Commercial = v.Commercial.Likely.String()
	for _, x := range v.Reasons {
		b.Findings = append(b.Findings, string(x.Code))
	}
	for _, j := range v.Legal {
		for _, a := range j.Rules {
			if a.Status == rules.StatusBreach || a.Status == rules.StatusNeedsContext {
				b.Breaches = append(b.Breaches, j.Jurisdiction+"/"+a.Rule+": "+string(a.Status))
			}
		}
	}
	if v.Spam != nil {
		s := v.Spam.Score
		b.SpamScore = &s
	}
	return b
}

// evidenceOf is the redacted copy of a report's message; clean is false
// when the copy still shows one of its people in some form.
func evidenceOf(r *intake.Report, people privacy.People) (evidenceBody, bool) {
	red := people.Message(r.Raw)
	clean := len(people.Leaks(red)) == 0
	return evidenceBody{Report: r.ID, MessageSHA256: r.SHA256, RedactedSHA256: HashBody(red), Redacted: base64.StdEncoding.EncodeToString(red)}, clean
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
