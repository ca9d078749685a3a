package federation

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/accord-antispam/accord/internal/intake"
)

// Group is a set of items signed together (one package): a campaign with
// its reports and evidence, all indicators, or the statistics.
type Group struct {
	ID    string
	Items []Item
}

// Markings and personal-data flags of each kind of item: the node's own
// classification, which agreements are then checked against.
const (
	tlpIndicator = TLPGreen
	tlpCampaign  = TLPAmber
	tlpReport    = TLPAmber
	tlpEvidence  = TLPAmberStrict
	tlpStats     = TLPClear
	minCell      = 5 // Statistics never show a count below this.
)

type indicator struct {
	Type    string    `json:"type"` // "ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr"
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
	Redacted       string `json:"redacted"`        // Base64 of the message with addresses redacted.
}

type statsBody struct {
	Reports   int            `json:"reports"`
	Campaigns int            `json:"campaigns"`
	ByOrigin  []intake.Count `json:"reports_by_origin"` // Cells below 5 suppressed.
	Source    string         `json:"source"`
}

func mkItem(key string, kind Kind, tlp TLP, origins []string, personal bool, camp string, updated time.Time, body any) Item {
	b, _ := json.Marshal(body)
	return Item{Key: key, Kind: kind, TLP: tlp, Origins: origins, PersonalData: personal, Campaign: camp,
		Updated: updated.UTC(), Body: b, Hash: HashBody(b)}
}

// Collect builds every item the node could share, grouped into packages.
// The bodies are deterministic, so an unchanged item keeps its hash and is
// never sent twice. jurisdiction is this node's, named in the bodies.
func Collect(ctx context.Context, src intake.Store, jurisdiction string, maxCampaigns int) ([]Group, error) {
	camps, err := src.Campaigns(ctx, intake.CampaignFilter{Limit: maxCampaigns})
	if err != nil {
		return nil, fmt.Errorf("collect campaigns: %w", err)
	}
	sort.Slice(camps, func(i, j int) bool { return camps[i].ID < camps[j].ID })
	inds := map[string]*indicator{}
	addInd := func(typ, value, country string, at time.Time) {
		if value == "" {
			return
		}
		k := typ + ":" + value
		in := inds[k]
		if in == nil {
			in = &indicator{Type: typ, Value: value, First: at, Last: at}
			inds[k] = in
		}
		in.Reports++
		if at.Before(in.First) {
			in.First = at
		}
		if at.After(in.Last) {
			in.Last = at
		}
		if country != "" && !contains(in.Origins, country) {
			in.Origins = append(in.Origins, country)
		}
	}
	var groups []Group
	byOrigin := map[string]int{}
	total := 0
	for _, c := range camps {
		d, err := src.Campaign(ctx, c.ID)
		if err != nil {
			return nil, fmt.Errorf("collect campaign %s: %w", c.ID, err)
		}
		sums, err := src.Reports(ctx, intake.ReportFilter{CampaignID: c.ID, Limit: 100000})
		if err != nil {
			return nil, fmt.Errorf("collect reports of %s: %w", c.ID, err)
		}
		g := Group{ID: "campaign:" + c.ID}
		var origins []string
		unknown := false
		for _, s := range sums {
			r, err := src.Report(ctx, s.ID)
			if err != nil {
				return nil, fmt.Errorf("collect report %s: %w", s.ID, err)
			}
			total++
			v := r.Verdict
			country := ""
			if v != nil {
				country = v.Origin.Country
			}
			if country == "" {
				unknown = true
				byOrigin["unknown"]++
			} else {
				byOrigin[country]++
				if !contains(origins, country) {
					origins = append(origins, country)
				}
			}
			var ro []string
			if country != "" {
				ro = []string{country}
			}
			g.Items = append(g.Items, mkItem("rep:"+r.ID, KindReports, tlpReport, ro, false, c.ID, r.ReceivedAt, reportOf(r)))
			g.Items = append(g.Items, mkItem("ev:"+r.ID, KindEvidence, tlpEvidence, ro, true, c.ID, r.ReceivedAt, evidenceOf(ctx, src, r)))
			if v == nil {
				continue
			}
			if ip := v.Origin.IP; ip != "" {
				typ := "ipv4-addr"
				if strings.Contains(ip, ":") {
					typ = "ipv6-addr"
				}
				addInd(typ, ip, country, r.ReceivedAt)
			}
			for _, a := range v.Sender.From {
				addInd("email-addr", strings.ToLower(a.Addr), country, r.ReceivedAt)
			}
			addInd("domain-name", v.Sender.Domains.From, country, r.ReceivedAt)
			for _, dom := range v.Content.Domains {
				addInd("domain-name", dom, country, r.ReceivedAt)
			}
			for _, u := range v.Content.URLs {
				addInd("url", stripQuery(u.URL), country, r.ReceivedAt)
			}
		}
		sort.Strings(origins)
		if unknown {
			// A campaign with reports of unknown origin cannot be shown to
			// come only from the allowed jurisdictions.
			origins = append(origins, "unknown")
		}
		g.Items = append(g.Items, mkItem("camp:"+c.ID, KindCampaigns, tlpCampaign, origins, false, c.ID, c.LastSeen, campaignBody{
			ID: c.ID, Subject: d.Subject, Reports: d.Reports, FirstSeen: d.FirstSeen.UTC(), LastSeen: d.LastSeen.UTC(),
			Countries: d.Countries, Networks: d.Networks, Senders: d.Senders, Domains: d.Domains, Findings: d.Findings, Source: jurisdiction,
		}))
		groups = append(groups, g)
	}
	ig := Group{ID: "indicators"}
	keys := make([]string, 0, len(inds))
	for k := range inds {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		in := inds[k]
		sort.Strings(in.Origins)
		origins := in.Origins
		ig.Items = append(ig.Items, mkItem("ind:"+k, KindIndicators, tlpIndicator, origins, false, "", in.Last, in))
	}
	if len(ig.Items) > 0 {
		groups = append(groups, ig)
	}
	st := statsBody{Reports: total, Campaigns: len(camps), Source: jurisdiction}
	smallest := 0
	for country, n := range byOrigin {
		if n >= minCell {
			st.ByOrigin = append(st.ByOrigin, intake.Count{Value: country, N: n})
			if smallest == 0 || n < smallest {
				smallest = n
			}
		}
	}
	sort.Slice(st.ByOrigin, func(i, j int) bool { return st.ByOrigin[i].Value < st.ByOrigin[j].Value })
	if total >= minCell && smallest == 0 {
		smallest = total // only the totals are shown
	}
	if total > 0 {
		stat := mkItem("stats:origins", KindStatistics, tlpStats, nil, false, "", time.Time{}, st)
		stat.Count = smallest
		groups = append(groups, Group{ID: "statistics", Items: []Item{stat}})
	}
	return groups, nil
}

func reportOf(r *intake.Report) reportBody {
	b := reportBody{ID: r.ID, Campaign: r.CampaignID, ReceivedAt: r.ReceivedAt.UTC().Format(time.RFC3339), Channel: string(r.Channel),
		Form: r.Form, MessageSHA256: r.SHA256, Unverifiable: r.Unverifiable, Findings: []string{}, Breaches: []string{}}
	v := r.Verdict
	if v == nil {
		return b
	}
	b.Subject = v.Message.Subject
	b.FromDomain = v.Sender.Domains.From
	b.OriginIP, b.OriginCountry, b.Forged = v.Origin.IP, v.Origin.Country, v.Origin.Forged
	if v.Origin.Network != nil {
		b.OriginASN, b.OriginNetwork = v.Origin.Network.ASN, v.Origin.Network.Name
	}
	b.Disguised = v.Sender.IdentityDisguised.String()
	b.OptOutValid = v.OptOut.Valid.String()
	b.Commercial = v.Commercial.Likely.String()
	for _, x := range v.Reasons {
		b.Findings = append(b.Findings, string(x.Code))
	}
	for _, j := range v.Legal {
		for _, a := range j.Rules {
			if a.Status != "ok" {
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

func evidenceOf(ctx context.Context, src intake.Store, r *intake.Report) evidenceBody {
	reporter := ""
	if r.ReporterID != "" {
		reporter, _ = src.ReporterAddress(ctx, r.ReporterID)
	}
	red := intake.Redact(r.Raw, reporter)
	return evidenceBody{Report: r.ID, MessageSHA256: r.SHA256, RedactedSHA256: HashBody(red), Redacted: base64.StdEncoding.EncodeToString(red)}
}

// stripQuery keeps scheme, host and path: queries and fragments of spam
// links often carry the recipient's address or a tracking token.
func stripQuery(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
