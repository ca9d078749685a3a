// Package lint is the pre-send check: the rulebooks turned around, so a
// sender's CI can stop a campaign that would break the law or the large
// mailbox providers' requirements before it goes out.
//
// It reuses the analysis engine and the rulebooks as they judge received
// mail — sender identity, opt-out, authentication, each jurisdiction's
// rules with their citations — and adds what a sender can fix before
// sending: the sending domain's SPF, DKIM and DMARC in DNS (through the
// resolver seam: live or a fixture zone), RFC 8058 one-click with DKIM over
// both list headers, the bulk-sender requirements of February 2024, and,
// for a registered sender, its domains, its complaint rate and whether a
// recipient's consent is on record.
package lint

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/consent"
	"github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/mailauth"
	"github.com/accord-antispam/accord/internal/resolve"
	"github.com/accord-antispam/accord/internal/rules"
)

// Status of a finding.
type Status string

const (
	Breach       Status = "breach"        // Must be fixed: the campaign would break a rule.
	Warning      Status = "warning"       // Should be fixed; not a rule's breach.
	NeedsContext Status = "needs-context" // Cannot be settled from what lint was given.
	OK           Status = "ok"
	NotApplies   Status = "not-applicable"
)

// Area groups findings.
type Area string

const (
	AreaIdentity Area = "identity"
	AreaOptOut   Area = "opt-out"
	AreaAuth     Area = "authentication"
	AreaLaw      Area = "law"
	AreaBulk     Area = "bulk-sender"
	AreaConsent  Area = "consent"
	AreaSender   Area = "sender"
)

// Finding is one check's outcome.
type Finding struct {
	Check        string   `json:"check"` // Stable id: "optout.one-click", "law.eu-valid-opt-out"…
	Area         Area     `json:"area"`
	Status       Status   `json:"status"`
	Title        string   `json:"title"`
	Detail       string   `json:"detail"`
	Citations    []string `json:"citations,omitempty"`
	Jurisdiction string   `json:"jurisdiction,omitempty"`
	Fix          string   `json:"fix,omitempty"`
}

// Report is a message's check.
type Report struct {
	Source        string    `json:"source"`
	Subject       string    `json:"subject"`
	From          string    `json:"from"`
	DKIMDomains   []string  `json:"dkim_domains"`
	Sender        string    `json:"sender,omitempty"`
	Recipient     string    `json:"recipient,omitempty"`
	Jurisdictions []string  `json:"jurisdictions"`
	DNS           string    `json:"dns"` // "live", "fixture" or "offline".
	Findings      []Finding `json:"findings"`
	Breaches      int       `json:"breaches"`
	Warnings      int       `json:"warnings"`
	NeedsContext  int       `json:"needs_context"`
	Clean         bool      `json:"clean"` // No breach.
	CheckedAt     time.Time `json:"checked_at"`
}

// SenderFacts is what the node knows of a registered sender, for the
// checks that need it. consent-backed (NodeFacts) and HTTP-backed (the
// command's --node) implementations exist.
type SenderFacts interface {
	Sender(ctx context.Context) (SenderInfo, error)
	Recipient(ctx context.Context, address, list string) (RecipientInfo, error)
}

// SenderInfo is a registered sender as lint needs it.
type SenderInfo struct {
	ID            string
	Domains       []string
	Jurisdictions []string
	PostalAddress string
	Status        string
	ComplaintRate float64 // Over the last 30 days.
	Sent          int64
	// JudgedBy is consent.JudgedByComplainants for a sender with fewer
	// than consent.MinRateVolume counted messages, judged by its
	// Complainants; "" (a node before the rule) or JudgedByRate by the
	// rate.
	JudgedBy     string
	Complainants int64
	Good         bool
	Why          []string
}

// RecipientInfo is a recipient's standing with the sender.
type RecipientInfo struct {
	ConsentOnRecord bool
	Basis           string // consent or soft-opt-in.
	Confirmed       bool
	Record          string
	Since           time.Time
	// What the sender asserted with the record: how consent was obtained
	// and when, or the sale behind a soft opt-in.
	Method          string
	ObtainedAt      time.Time
	SaleDate        time.Time
	ProductCategory string
	OptedOut        bool
	OptedOutAt      time.Time
	OptOutReason    string
	Records         int // Of any status.
}

// Asserted says, in words, what the sender asserted with an unconfirmed
// record — its word, which the node did not check.
func (ri RecipientInfo) Asserted() string {
	if ri.Basis == "soft-opt-in" {
		return fmt.Sprintf("the sender asserts a soft opt-in: a sale of %q on %s (the node established neither the sale nor that the offer is for similar products)",
			ri.ProductCategory, ri.SaleDate.Format("2006-01-02"))
	}
	return fmt.Sprintf("the sender asserts consent obtained by %q on %s, not confirmed by the recipient (the node did not see it)",
		ri.Method, ri.ObtainedAt.Format("2006-01-02"))
}

// Linter checks messages. Build one and share it.
type Linter struct {
	Analyzer *analysis.Analyzer // Its Resolver is the DNS lint checks against.
	Now      func() time.Time
}

// Options are one check's settings.
type Options struct {
	Source        string
	Jurisdictions []string    // Rulebooks (default: the sender's, else the analyzer's).
	Sender        SenderFacts // nil: no sender checks.
	Recipient     string      // With Sender: is consent on record?
	List          string      // The list the campaign goes to ("" any).
	Transactional bool        // Not commercial: the marketing rules do not apply.
	Bulk          bool        // Apply the large mailbox providers' bulk-sender requirements.
	MailFrom      string      // The envelope sender, when it is not the Return-Path.
	IP            string      // The sending address, for a real SPF check.
}

// Lint checks one message.
func (l *Linter) Lint(ctx context.Context, m *mail.Message, o Options) (*Report, error) {
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	r := &Report{Source: o.Source, CheckedAt: now().UTC(), DNS: dnsMode(l.Analyzer.Resolver)}
	var si *SenderInfo
	if o.Sender != nil {
		s, err := o.Sender.Sender(ctx)
		if err != nil {
			return nil, fmt.Errorf("lint: the sender: %w", err)
		}
		si = &s
		r.Sender = s.ID
	}
	juris := o.Jurisdictions
	if len(juris) == 0 && si != nil {
		juris = si.Jurisdictions
	}
	an := *l.Analyzer
	if len(juris) > 0 {
		an.Jurisdictions = juris
	}
	r.Jurisdictions = an.Jurisdictions
	if len(r.Jurisdictions) == 0 {
		r.Jurisdictions = []string{"EU"}
	}

	// Consent first: it is context for the law.
	cx := analysis.Context{Commercial: rules.True}
	if si != nil {
		cx.PostalAddress = si.PostalAddress
	}
	if o.Transactional {
		cx.Commercial = rules.False
	}
	var ri *RecipientInfo
	if o.Recipient != "" && o.Sender != nil {
		x, err := o.Sender.Recipient(ctx, o.Recipient, o.List)
		if err != nil {
			return nil, fmt.Errorf("lint: the recipient: %w", err)
		}
		ri = &x
		r.Recipient = o.Recipient
		cx.Why = "the node's consent records for " + o.Recipient
		switch {
		case x.ConsentOnRecord && !x.OptedOut && x.Confirmed:
			// The node saw the recipient confirm from its own mail.
			cx.Consent, cx.ExistingCustomer = rules.True, rules.False
			cx.Why += ": the recipient confirmed from the node's mail"
		case x.ConsentOnRecord && !x.OptedOut:
			// A record the sender alone vouches for: what it asserts is
			// context the node did not establish, so the law stays open.
			cx.Consent, cx.ExistingCustomer = rules.Unknown, rules.Unknown
			cx.Why += ": " + x.Asserted()
		default:
			cx.Consent, cx.ExistingCustomer = rules.False, rules.False
		}
	}
	envelope := analysis.Envelope{MailFrom: o.MailFrom}
	v, err := an.Analyze(ctx, analysis.Input{Source: o.Source, Message: m, Context: cx, Envelope: envelope})
	if err != nil {
		return nil, err
	}
	r.Subject = v.Message.Subject
	if len(v.Sender.From) > 0 {
		r.From = v.Sender.From[0].Addr
	}
	for _, d := range v.Auth.DKIM {
		if !slices.Contains(r.DKIMDomains, d.Domain) {
			r.DKIMDomains = append(r.DKIMDomains, d.Domain)
		}
	}
	if r.DKIMDomains == nil {
		r.DKIMDomains = []string{}
	}
	c := &checker{r: r, v: v, m: m, o: o, si: si, ri: ri, res: l.Analyzer.Resolver}
	c.identity()
	c.optOut()
	c.auth(ctx)
	c.law()
	if si != nil {
		c.sender()
	}
	if ri != nil {
		c.consent()
	}
	if o.Bulk {
		c.bulk()
	}
	for _, f := range r.Findings {
		switch f.Status {
		case Breach:
			r.Breaches++
		case Warning:
			r.Warnings++
		case NeedsContext:
			r.NeedsContext++
		}
	}
	r.Clean = r.Breaches == 0
	return r, nil
}

func dnsMode(res resolve.Resolver) string {
	switch {
	case resolve.IsOffline(res):
		return "offline"
	case isZone(res):
		return "fixture"
	}
	return "live"
}

func isZone(res resolve.Resolver) bool {
	_, ok := res.(*resolve.Zone)
	return ok
}

type checker struct {
	r   *Report
	v   *analysis.Verdict
	m   *mail.Message
	o   Options
	si  *SenderInfo
	ri  *RecipientInfo
	res resolve.Resolver

	spfOK, dkimOK, dmarcOK, aligned Status
}

func (c *checker) add(f Finding) { c.r.Findings = append(c.r.Findings, f) }

func (c *checker) offline() bool { return resolve.IsOffline(c.res) }

// Citations used by several checks.
const (
	citeRFC5322   = "RFC 5322 section 3.6"
	citeRFC8058   = "RFC 8058 section 3.1"
	citeRFC8058s4 = "RFC 8058 section 4"
	citeRFC2369   = "RFC 2369 section 3.2"
	citeEU134     = "Directive 2002/58/EC art. 13(4)"
	citeBulk      = "Gmail and Yahoo bulk-sender requirements (February 2024); Outlook.com (May 2025)"
)

func (c *checker) identity() {
	h := c.m.Header
	from := c.v.Sender.From
	switch {
	case len(from) == 0:
		c.add(Finding{Check: "identity.from", Area: AreaIdentity, Status: Breach, Title: "The message has a valid From address",
			Detail: "no usable From field", Citations: []string{citeRFC5322, citeEU134}, Fix: "Add a From field with your organisation's name and address."})
	case len(from) > 1:
		c.add(Finding{Check: "identity.from", Area: AreaIdentity, Status: Breach, Title: "The message has a valid From address",
			Detail: "several author addresses: DMARC and the mailbox providers need exactly one", Citations: []string{citeRFC5322, "RFC 7489 section 6.6.1"},
			Fix: "Use one From address."})
	default:
		c.add(Finding{Check: "identity.from", Area: AreaIdentity, Status: OK, Title: "The message has a valid From address", Detail: from[0].Addr})
	}
	var strong, weak []string
	for _, f := range c.v.Sender.Findings {
		switch f.Strength {
		case rules.Strong:
			strong = append(strong, f.Detail)
		case rules.Weak:
			weak = append(weak, f.Detail)
		}
	}
	switch {
	case len(strong) > 0:
		c.add(Finding{Check: "identity.not-disguised", Area: AreaIdentity, Status: Breach, Title: "The sender's identity is not disguised",
			Detail: strings.Join(strong, "; "), Citations: []string{citeEU134, "Directive 2000/31/EC art. 6(b)", "15 U.S.C. 7704(a)(1)"},
			Fix: "Make the display name, From, Reply-To and signing domain show who really sends."})
	case len(weak) > 0:
		c.add(Finding{Check: "identity.not-disguised", Area: AreaIdentity, Status: Warning, Title: "The sender's identity is not disguised",
			Detail: strings.Join(weak, "; "), Citations: []string{citeEU134}, Fix: "Recipients and filters trust mail whose names all point to one organisation."})
	default:
		c.add(Finding{Check: "identity.not-disguised", Area: AreaIdentity, Status: OK, Title: "The sender's identity is not disguised",
			Detail: "display name, From and Reply-To agree"})
	}
	if !h.Has("Date") {
		c.add(Finding{Check: "identity.date", Area: AreaIdentity, Status: Breach, Title: "The message has a Date field", Detail: "no Date field",
			Citations: []string{citeRFC5322}, Fix: "Every message needs a Date field (RFC 5322 3.6.1)."})
	}
	if !h.Has("Message-ID") {
		c.add(Finding{Check: "identity.message-id", Area: AreaIdentity, Status: Warning, Title: "The message has a Message-ID", Detail: "no Message-ID field",
			Citations: []string{"RFC 5322 section 3.6.4", citeBulk}, Fix: "Add a Message-ID; Gmail defers mail without one."})
	}
}

func hasTarget(ts []rules.OptOutTarget, kind string) (rules.OptOutTarget, bool) {
	for _, t := range ts {
		if t.Kind == kind && t.Valid {
			return t, true
		}
	}
	return rules.OptOutTarget{}, false
}

// oneClickFix says how to get a one-click opt-out. A plain http:// link
// is most often an Accord node's own (POST /api/v1/unsubscribe-links
// builds them on the node's public URL, which is http:// until its
// operator sets one): the sender cannot fix that, the operator can.
func oneClickFix(ts []rules.OptOutTarget) string {
	for _, t := range ts {
		if t.Kind == "http" {
			return "One-click needs an https:// target in List-Unsubscribe, and " + t.Target + " is http://. " +
				"If the link came from an Accord node (POST /api/v1/unsubscribe-links), the node's operator must set an https public URL " +
				"([senders] public_url or [http] public_url = \"https://…\") and the links be fetched again; otherwise use an https:// link."
		}
	}
	return "Add List-Unsubscribe-Post: List-Unsubscribe=One-Click beside an https:// List-Unsubscribe target " +
		"(POST /api/v1/unsubscribe-links gives both, on a node whose public URL is https)."
}

func (c *checker) optOut() {
	o := c.v.OptOut
	switch o.Valid {
	case rules.True:
		c.add(Finding{Check: "optout.present", Area: AreaOptOut, Status: OK, Title: "A valid way to opt out", Detail: o.Why})
	case rules.False:
		c.add(Finding{Check: "optout.present", Area: AreaOptOut, Status: Breach, Title: "A valid way to opt out", Detail: o.Why,
			Citations: []string{"Directive 2002/58/EC art. 13(2), 13(4)", "15 U.S.C. 7704(a)(3)", "CASL s. 11(1)", "Spam Act 2003 s. 18"},
			Fix:       "Add List-Unsubscribe and List-Unsubscribe-Post headers and a visible unsubscribe link (POST /api/v1/unsubscribe-links gives both)."})
	default:
		c.add(Finding{Check: "optout.present", Area: AreaOptOut, Status: NeedsContext, Title: "A valid way to opt out", Detail: o.Why,
			Fix: "Give an unsubscribe link or address that works without a reply being read by a person."})
	}
	https, hasHTTPS := hasTarget(o.ListUnsubscribe, "https")
	_, hasMailto := hasTarget(o.ListUnsubscribe, "mailto")
	switch {
	case len(o.ListUnsubscribe) == 0:
		c.add(Finding{Check: "optout.list-unsubscribe", Area: AreaOptOut, Status: Breach, Title: "A List-Unsubscribe header",
			Detail: "no List-Unsubscribe header", Citations: []string{citeRFC2369, citeBulk},
			Fix: "Add List-Unsubscribe: <https://…>, <mailto:…> (the node makes them per recipient)."})
	case !hasHTTPS && !hasMailto:
		c.add(Finding{Check: "optout.list-unsubscribe", Area: AreaOptOut, Status: Breach, Title: "A List-Unsubscribe header",
			Detail: "List-Unsubscribe has no valid HTTPS or mailto target: " + o.ListUnsubscribe[0].Problem, Citations: []string{citeRFC2369}})
	default:
		d := "targets:"
		for _, t := range o.ListUnsubscribe {
			d += " " + t.Target
		}
		c.add(Finding{Check: "optout.list-unsubscribe", Area: AreaOptOut, Status: OK, Title: "A List-Unsubscribe header", Detail: d})
		// A target that cannot work beside one that can: the mail client
		// may pick the broken one (a mailto at localhost, from a node
		// whose mail domain was never set, reaches no one).
		for _, t := range o.ListUnsubscribe {
			if !t.Valid {
				c.add(Finding{Check: "optout.list-unsubscribe-target", Area: AreaOptOut, Status: Warning, Title: "Every List-Unsubscribe target works",
					Detail: t.Target + ": " + t.Problem, Citations: []string{citeRFC2369},
					Fix: "Remove the target or make it reachable; if it came from an Accord node, its operator must set [senders] mail_domain (or [smtp] hostname) to a domain whose MX is the node."})
			}
		}
	}
	switch {
	case o.OneClick:
		c.add(Finding{Check: "optout.one-click", Area: AreaOptOut, Status: OK, Title: "One-click unsubscribe (RFC 8058)",
			Detail: "List-Unsubscribe-Post: List-Unsubscribe=One-Click with " + https.Target})
	case c.m.Header.Has("List-Unsubscribe-Post") && !hasHTTPS:
		c.add(Finding{Check: "optout.one-click", Area: AreaOptOut, Status: Breach, Title: "One-click unsubscribe (RFC 8058)",
			Detail: "List-Unsubscribe-Post is set but List-Unsubscribe has no HTTPS target", Citations: []string{citeRFC8058, citeBulk},
			Fix: oneClickFix(o.ListUnsubscribe)})
	default:
		c.add(Finding{Check: "optout.one-click", Area: AreaOptOut, Status: Breach, Title: "One-click unsubscribe (RFC 8058)",
			Detail: "no List-Unsubscribe-Post: List-Unsubscribe=One-Click", Citations: []string{citeRFC8058, citeBulk},
			Fix: "Add List-Unsubscribe-Post: List-Unsubscribe=One-Click beside an HTTPS List-Unsubscribe target."})
	}
	if o.OneClick {
		covered := false
		for _, s := range c.v.Auth.DKIM {
			if slices.Contains(s.Headers, "list-unsubscribe") && slices.Contains(s.Headers, "list-unsubscribe-post") {
				covered = true
			}
		}
		if covered {
			c.add(Finding{Check: "optout.dkim-covers", Area: AreaOptOut, Status: OK, Title: "DKIM signs both list headers",
				Detail: "a DKIM signature's h= lists List-Unsubscribe and List-Unsubscribe-Post"})
		} else {
			c.add(Finding{Check: "optout.dkim-covers", Area: AreaOptOut, Status: Breach, Title: "DKIM signs both list headers",
				Detail: "no DKIM signature covers both List-Unsubscribe and List-Unsubscribe-Post", Citations: []string{citeRFC8058s4},
				Fix: "Add list-unsubscribe:list-unsubscribe-post to the h= of your DKIM signature."})
		}
	}
	body := false
	for _, t := range o.Body {
		if t.Valid && (t.Kind == "https" || t.Kind == "http" || t.Kind == "mailto") {
			body = true
		}
	}
	if body {
		c.add(Finding{Check: "optout.body-link", Area: AreaOptOut, Status: OK, Title: "A visible unsubscribe link in the text", Detail: "found in the text"})
	} else {
		c.add(Finding{Check: "optout.body-link", Area: AreaOptOut, Status: Warning, Title: "A visible unsubscribe link in the text",
			Detail: "no unsubscribe link or address in the text", Citations: []string{citeBulk, "16 CFR 316.5"},
			Fix: "Put the unsubscribe link in the text too: recipients must find it, and some mail clients show no button."})
	}
}

func (c *checker) law() {
	for _, j := range c.v.Legal {
		for _, a := range j.Rules {
			f := Finding{Check: "law." + a.Rule, Area: AreaLaw, Jurisdiction: j.Jurisdiction, Title: a.Title, Citations: []string{a.Citation}}
			var why []string
			for name, ev := range a.Evidence {
				for _, w := range ev.Why {
					why = append(why, name+": "+w)
				}
			}
			slices.Sort(why)
			f.Detail = a.Explain
			if len(why) > 0 {
				f.Detail += " (" + strings.Join(why, "; ") + ")"
			}
			switch a.Status {
			case rules.StatusBreach:
				f.Status = Breach
			case rules.StatusOK:
				f.Status = OK
			case rules.StatusNeedsContext:
				f.Status = NeedsContext
			default:
				f.Status = Status(a.Status) // a status a newer rulebook adds, such as not-applicable
			}
			c.add(f)
		}
	}
}

func (c *checker) sender() {
	si := c.si
	from := c.v.Sender.Domains.From
	mine := func(d string) bool {
		for _, x := range si.Domains {
			if d == x || strings.HasSuffix(d, "."+x) {
				return true
			}
		}
		return false
	}
	if si.Status != "active" {
		c.add(Finding{Check: "sender.status", Area: AreaSender, Status: Breach, Title: "The sender is in good standing at the node",
			Detail: "suspended: " + strings.Join(si.Why, "; ")})
	}
	if from != "" && !mine(from) {
		c.add(Finding{Check: "sender.from-domain", Area: AreaSender, Status: Breach, Title: "The From domain is one of the sender's registered domains",
			Detail: from + " is not among " + strings.Join(si.Domains, ", "), Fix: "Send from a registered domain, or register this one (accord sender add --domains)."})
	} else if from != "" {
		c.add(Finding{Check: "sender.from-domain", Area: AreaSender, Status: OK, Title: "The From domain is one of the sender's registered domains", Detail: from})
	}
	signed := false
	for _, d := range c.r.DKIMDomains {
		if mine(d) {
			signed = true
		}
	}
	switch {
	case signed:
		c.add(Finding{Check: "sender.dkim-domain", Area: AreaSender, Status: OK, Title: "Signed with a registered domain (complaints and labels key on it)",
			Detail: strings.Join(c.r.DKIMDomains, ", ")})
	case len(c.r.DKIMDomains) > 0:
		c.add(Finding{Check: "sender.dkim-domain", Area: AreaSender, Status: Breach, Title: "Signed with a registered domain (complaints and labels key on it)",
			Detail: "DKIM d= " + strings.Join(c.r.DKIMDomains, ", ") + " is not among " + strings.Join(si.Domains, ", ")})
	}
	if si.PostalAddress != "" && !slices.ContainsFunc(c.r.Findings, func(f Finding) bool {
		return strings.HasSuffix(f.Check, "postal-address") && f.Status == OK
	}) {
		for i, f := range c.r.Findings {
			if strings.HasSuffix(f.Check, "postal-address") && f.Status == Breach {
				c.r.Findings[i].Fix = "Add the registered postal address to the text, as registered (" + si.PostalAddress +
					"; case, punctuation and spacing may differ), or a full postal address (number, street, city, and the postcode where the country has one)"
			}
		}
	}
	st := OK
	d := fmt.Sprintf("%.3f%% over the last 30 days (%d messages)", si.ComplaintRate*100, si.Sent)
	switch {
	case si.smallSender():
		d += complainantsDetail(*si)
		if si.Complainants >= consent.MinComplainants {
			st = Breach
		}
	case si.ComplaintRate >= 0.003:
		st = Breach
	case si.ComplaintRate >= 0.001:
		st = Warning
		d += ": keep it under 0.1%"
	}
	c.add(Finding{Check: "sender.complaint-rate", Area: AreaSender, Status: st, Title: "Complaint rate under 0.3%", Detail: d,
		Citations: []string{citeBulk}})
}

func (c *checker) consent() {
	ri := c.ri
	scope := "list " + c.o.List
	if c.o.List == "" {
		scope = "any list"
	}
	switch {
	case ri.OptedOut:
		c.add(Finding{Check: "consent.opted-out", Area: AreaConsent, Status: Breach, Title: "The recipient has not opted out",
			Detail:    fmt.Sprintf("%s opted out (%s, %s) of %s", c.o.Recipient, ri.OptOutReason, ri.OptedOutAt.Format(time.RFC3339), scope),
			Citations: []string{"Regulation (EU) 2016/679 art. 21(3)", "15 U.S.C. 7704(a)(4)", "CASL s. 11(3)", "Spam Act 2003 sch. 2"},
			Fix:       "Remove the recipient: sync the suppression list (GET /api/v1/suppressions) before every send."})
	case ri.ConsentOnRecord && ri.Confirmed:
		c.add(Finding{Check: "consent.on-record", Area: AreaConsent, Status: OK, Title: "Consent on record",
			Detail: fmt.Sprintf("%s: record %s (%s, confirmed by the recipient from the node's mail on %s)", scope, ri.Record, ri.Basis, ri.Since.Format("2006-01-02"))})
	case ri.ConsentOnRecord:
		// A record is on record — that much the node established; what it
		// says is the sender's word.
		c.add(Finding{Check: "consent.on-record", Area: AreaConsent, Status: OK, Title: "Consent on record",
			Detail: fmt.Sprintf("%s: record %s, recorded %s: %s", scope, ri.Record, ri.Since.Format("2006-01-02"), ri.Asserted()),
			Fix:    "Use confirmed opt-in (\"confirm\": true) so the node sees the recipient consent."})
	default:
		c.add(Finding{Check: "consent.on-record", Area: AreaConsent, Status: Warning, Title: "Consent on record",
			Detail: fmt.Sprintf("no active consent record for %s on %s at this node (%d records of any status); the law findings say where that is a breach", c.o.Recipient, scope, ri.Records),
			Fix:    "Record how the recipient consented (POST /api/v1/consents), with confirmed opt-in."})
	}
}

// bulk applies the large mailbox providers' requirements for bulk senders
// (5,000 messages a day or more to their users).
func (c *checker) bulk() {
	const offline = "DNS was not asked (offline): run with --resolver live, or a fixture zone"
	var missing []string
	for _, x := range []struct {
		name string
		st   Status
	}{{"SPF", c.spfOK}, {"DKIM", c.dkimOK}, {"DMARC", c.dmarcOK}} {
		if x.st != OK {
			missing = append(missing, x.name)
		}
	}
	st := OK
	d := "SPF, DKIM and DMARC are all in place"
	if len(missing) > 0 {
		st, d = Breach, "missing or failing: "+strings.Join(missing, ", ")
	}
	ast, ad := c.aligned, alignDetail(c.v)
	if c.offline() {
		st, d, ast, ad = NeedsContext, offline, NeedsContext, offline
	}
	c.add(Finding{Check: "bulk.authentication", Area: AreaBulk, Status: st, Title: "SPF and DKIM and DMARC (p=none at least)", Detail: d,
		Citations: []string{citeBulk}})
	c.add(Finding{Check: "bulk.alignment", Area: AreaBulk, Status: ast, Title: "The From domain aligns with SPF or DKIM",
		Detail: ad, Citations: []string{citeBulk, "RFC 7489 section 3.1"}})
	oc := Breach
	if c.v.OptOut.OneClick {
		oc = OK
	}
	f := Finding{Check: "bulk.one-click", Area: AreaBulk, Status: oc, Title: "One-click unsubscribe for marketing mail", Detail: c.v.OptOut.Why,
		Citations: []string{citeBulk, citeRFC8058}}
	if oc != OK {
		f.Fix = oneClickFix(c.v.OptOut.ListUnsubscribe)
	}
	c.add(f)
	if c.si == nil {
		c.add(Finding{Check: "bulk.complaint-rate", Area: AreaBulk, Status: NeedsContext, Title: "User-reported spam rate under 0.3%",
			Detail: "the complaint rate is known for a registered sender (--sender)", Citations: []string{citeBulk}})
	} else {
		st := OK
		d := fmt.Sprintf("%.3f%% at this node over 30 days", c.si.ComplaintRate*100)
		switch {
		case c.si.smallSender():
			d += complainantsDetail(*c.si)
			if c.si.Complainants >= consent.MinComplainants {
				st = Breach
			}
		case c.si.ComplaintRate >= 0.003:
			st = Breach
		}
		c.add(Finding{Check: "bulk.complaint-rate", Area: AreaBulk, Status: st, Title: "User-reported spam rate under 0.3%",
			Detail: d, Citations: []string{citeBulk}})
	}
}

// smallSender reports whether the sender is judged by its complainants,
// not its rate: too few counted messages for a rate to mean anything
// (docs/consent.md, "Standing").
func (si SenderInfo) smallSender() bool { return si.JudgedBy == consent.JudgedByComplainants }

func complainantsDetail(si SenderInfo) string {
	return fmt.Sprintf(": under %d messages the rate is not judged; %d of %d distinct complainants lose good standing",
		consent.MinRateVolume, si.Complainants, consent.MinComplainants)
}

func alignDetail(v *analysis.Verdict) string {
	if v.Auth.DMARC.DKIMAligned {
		return "a DKIM signature aligned with the From domain passes"
	}
	if v.Auth.DMARC.SPFAligned {
		return "SPF passes for an aligned envelope domain"
	}
	if v.Sender.Alignment.DKIM {
		return "a DKIM signature is aligned with the From domain but does not verify"
	}
	return "no DKIM signature aligned with the From domain passes"
}

var _ = mailauth.Pass
