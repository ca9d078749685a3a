package federation

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/dnsname"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/mailauth"
	"github.com/accord-antispam/accord/internal/privacy"
)

// ReportRef is what the federation needs to know of a report to tell
// whether what it derived from the report still holds — without its
// message or its analysis, which are the bulk of what a desk stores.
type ReportRef struct {
	ID         string
	CampaignID string
	ReceivedAt time.Time
	SHA256     string    // Of the message as received.
	Reporter   string    // The reporter's address; "" when anonymous or erased.
	PurgedAt   time.Time // When its message and analysis were deleted; zero while kept.
}

// RefOf is the reference of a report read in full, with its reporter's
// address.
func RefOf(r *intake.Report, reporter string) ReportRef {
	return ReportRef{ID: r.ID, CampaignID: r.CampaignID, ReceivedAt: r.ReceivedAt, SHA256: r.SHA256, Reporter: reporter, PurgedAt: r.PurgedAt}
}

// stamp changes whenever anything a report's items are made from does:
// its message (by hash), its reporter (an erasure unlinks them, and the
// redaction then no longer removes their address), its campaign and
// arrival, and the deletion of its message and analysis.
func (r ReportRef) stamp() string {
	h := sha256.New()
	for _, s := range []string{r.ID, r.CampaignID, strconv.FormatInt(r.ReceivedAt.UnixNano(), 10), r.SHA256, r.Reporter, strconv.FormatInt(r.PurgedAt.UnixNano(), 10)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// readBatch is how many reports one query reads in full: each query is
// short (no snapshot held open for a whole desk), and a shutdown waits for
// one batch at most.
const readBatch = 32

// ErrChanged is returned when a report changed (its message purged, its
// reporter erased) after the shared set was collected: an evidence body
// made now would not be the one decided on. The next round collects again.
var ErrChanged = errors.New("federation: a report changed after the shared set was collected")

// Collector builds the shared set, deriving each report's part of it
// once. What a report contributes — the people privacy.Of finds in its
// message, its report item, its evidence item's hash and whether the
// redaction is clean, its indicators and what the statistics and its
// campaign count — depends only on the report, so it is kept, keyed by the
// report's id and stamp (its message hash, reporter, campaign, arrival and
// purge time), and only reports new or changed since the last collection
// are read in full. The others cost one row of their index: a round's
// cost follows what changed, not what the desk holds.
//
// The derivations are kept in memory, per process, not in a store table,
// on purpose: they hold the people a message names (its recipients'
// addresses and names, which the redaction needs), and a table would be a
// second copy of those beyond the reach of erasure and retention. Memory
// is bounded by the reports held — entries of reports no longer held are
// dropped at each collection — and no entry keeps a message or its
// redacted copy: an evidence item keeps its hash and size, and its body
// is made again, identically, when an envelope carries it (Shared.Bodies).
// The price is one read of each report's message per process, on its
// first collection, and none at all while the node has no active peer
// (Service.Round does not collect then).
type Collector struct {
	Source       Source
	Jurisdiction string

	sem   chan struct{}       // One collection at a time: a second one waits and reuses.
	cache map[string]*derived // By report id.
}

// derived is one report's part of the shared set.
type derived struct {
	stamp    string
	country  string
	subject  string // The verdict's subject as received: the campaign's is redacted against all its reports' people.
	verdict  bool   // It had an analysis (counts and indicators below).
	recips   []string
	mention  []string
	names    []string
	network  string
	sender   string
	domains  []string
	findings []string
	inds     []indRef // Its indicators, its own people already left out; the sender domain's is senderInd.
	rep, ev  Item     // ev.Body is nil: made again by Shared.Bodies.
	evSize   int

	// What tells a replayed signature (see replays): the names (BHash)
	// of the DKIM signatures that established sender, the origin IP and
	// the recipients, sorted. A report whose signature is found replayed
	// shares repReplayed instead of rep, and neither sender nor
	// senderInd: each is made here both ways, since which one holds
	// depends on the other reports and the message is not kept.
	sigs        []string
	origin      string
	recipKey    string
	senderInd   string
	repReplayed Item
}

type indRef struct{ typ, value string }

// Collect builds every item the node could share. See the package-level
// Collect for what is removed at the border.
func (c *Collector) Collect(ctx context.Context) (*Shared, error) {
	return c.CollectWithheld(ctx, nil)
}

// CollectWithheld is Collect with the domains the node's analyst marked
// as not the spammer's (Withheld): they accuse nobody in what it builds.
// They are applied when the reports' parts are put together, not when
// each is derived, so a marking costs no report a second reading.
func (c *Collector) CollectWithheld(ctx context.Context, ws []Withheld) (*Shared, error) {
	if c.sem == nil {
		return nil, errors.New("collect: a Collector is made with NewCollector")
	}
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("collect: %w", ctx.Err())
	}
	defer func() { <-c.sem }()
	version, err := c.Source.SharedVersion(ctx)
	if err != nil {
		return nil, fmt.Errorf("collect: %w", err)
	}
	var refs []ReportRef
	var missing []string
	err = c.Source.SharedIndex(ctx, func(r ReportRef) error {
		refs = append(refs, r)
		if d := c.cache[r.ID]; d == nil || d.stamp != r.stamp() {
			missing = append(missing, r.ID)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("collect: %w", err)
	}
	// Reports new or changed are read in full, a batch at a time, and
	// what is derived is kept as it comes: an interrupted collection
	// loses nothing already read.
	for len(missing) > 0 {
		n := min(len(missing), readBatch)
		err := c.Source.SharedReports(ctx, missing[:n], func(r *intake.Report, reporter string) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			c.cache[r.ID] = derive(r, reporter)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("collect: %w", err)
		}
		missing = missing[n:]
	}
	// Only the reports held now are kept.
	keep := make(map[string]*derived, len(refs))
	for _, r := range refs {
		if d := c.cache[r.ID]; d != nil {
			keep[r.ID] = d
		}
	}
	c.cache = keep
	wv := withheldVersion(ws)
	if wv != "" {
		version += "/withheld:" + wv
	}
	sh := assemble(c.Source, version, c.Jurisdiction, refs, keep, newWithheldSet(ws))
	sh.withheld = wv
	return sh, nil
}

// NewCollector returns a collector of src's reports for a node of
// jurisdiction.
func NewCollector(src Source, jurisdiction string) *Collector {
	return &Collector{Source: src, Jurisdiction: jurisdiction, sem: make(chan struct{}, 1), cache: map[string]*derived{}}
}

// keptApart is everybody a report names, its reporter and the forwarder
// an unsure report keeps apart (intake.KeptApart) included.
func keptApart(r *intake.Report, reporter string) privacy.People {
	reps, fwds := intake.KeptApart(r, reporter)
	return privacy.OfApart(r.Raw, reps, fwds)
}

// derive computes a report's part of the shared set.
func derive(r *intake.Report, reporter string) *derived {
	people := keptApart(r, reporter)
	d := &derived{stamp: RefOf(r, intake.ReporterAddressOf(reporter)).stamp(), recips: people.Recipients(), mention: people.Mentioned, names: people.Names}
	v := r.Verdict
	if v != nil {
		d.verdict, d.country, d.subject = true, v.Origin.Country, v.Message.Subject
		if intake.UnsureOrigin(r.Unverifiable) {
			d.country = "" // The forwarder's provider's as likely as the spam's (see spamSender).
		}
	}
	var ro []string
	if d.country != "" {
		ro = []string{d.country}
	}
	rb := reportOf(r, people)
	var links linkRule
	if v != nil {
		var why string
		from := v.Sender.Domains.From
		list := listOrgOf(r.Raw, from)
		// A report that may be a person's forward has a From that is the
		// forwarder's as likely as the spam's: their signature vouches for
		// their own firm, not for the spam's links.
		established := from != "" && v.Auth != nil && authenticated(v.Auth, from) && !intake.UnsureOrigin(r.Unverifiable)
		if links, why = newLinkRule(v, established, list); why != "" {
			rb.Unverifiable = append(slices.Clip(rb.Unverifiable), why)
		}
	}
	d.rep = mkItem("rep:"+r.ID, KindReports, tlpReport, ro, false, r.CampaignID, r.ReceivedAt, rb)
	ev, clean := evidenceOf(r, people)
	d.ev = mkItem("ev:"+r.ID, KindEvidence, tlpEvidence, ro, true, r.CampaignID, r.ReceivedAt, ev)
	d.evSize, d.ev.Body = len(d.ev.Body), nil
	if !clean {
		d.ev.Unshareable = "its redacted copy could not be shown free of the recipients' and reporter's addresses"
	}
	if v == nil {
		return d
	}
	// A report taken whole because nobody said whether it is the spam or
	// a person's forward of it has as its origin either the phisher's
	// relay or the provider that carried the forward: neither its IP,
	// its network nor its country is named as a spam run's, nor in its
	// report item (reportOf).
	unsure := intake.UnsureOrigin(r.Unverifiable)
	if v.Origin.Network != nil && v.Origin.Network.ASN != 0 && !unsure {
		d.network = fmt.Sprintf("AS%d %s", v.Origin.Network.ASN, v.Origin.Network.Name)
	}
	recips := slices.Clone(d.recips)
	slices.Sort(recips)
	d.recipKey = strings.Join(slices.Compact(recips), "\x00")
	d.sender, _ = spamSender(r)
	if d.sender != "" {
		d.sigs = establishing(v.Auth, d.sender)
		d.origin = v.Origin.IP
		rb.FromDomain, rb.Unverifiable = "", append(slices.Clip(rb.Unverifiable), senderReplayed)
		d.repReplayed = mkItem("rep:"+r.ID, KindReports, tlpReport, ro, false, r.CampaignID, r.ReceivedAt, rb)
	}
	for _, dom := range v.Content.Domains {
		if !links.domain(dom) && !namesPerson(people, dom) {
			d.domains = append(d.domains, dom)
		}
	}
	for _, x := range v.Reasons {
		d.findings = append(d.findings, string(x.Code))
	}
	if ip := v.Origin.IP; ip != "" && !unsure {
		typ := "ipv4-addr"
		if strings.Contains(ip, ":") {
			typ = "ipv6-addr"
		}
		d.inds = append(d.inds, indRef{typ, ip})
	}
	// No e-mail address becomes an indicator, not even the sender's:
	// it is often a forged or hijacked person's. Its domain does.
	if dom := d.sender; dom != "" && !people.HoldsDomain(dom) {
		d.senderInd = dom
	}
	for _, dom := range d.domains {
		// A domain that spells one of the people (a host "bob.durand",
		// their name under an unlisted suffix) is theirs as much as
		// their address is.
		if !people.HoldsDomain(dom) && !namesPerson(people, dom) {
			d.inds = append(d.inds, indRef{"domain-name", dom})
		}
	}
	for _, u := range v.Content.URLs {
		// A link through a well-known redirector stands for its target:
		// its domain and link, under the same rules.
		if t := redirectTarget(u.URL); t != "" {
			if tu, err := url.Parse(t); err == nil {
				host := strings.ToLower(tu.Hostname())
				dom := dnsname.OrgDomain(host)
				if dom == "" {
					dom = host
				}
				if !links.domain(dom) && !people.HoldsDomain(dom) && !namesPerson(people, host) {
					d.inds = append(d.inds, indRef{"domain-name", dom})
					if !slices.Contains(d.domains, dom) {
						d.domains = append(d.domains, dom)
					}
				}
				if g, ok := people.URL(t); ok && !links.url(host) && !links.serviceOnly(t, g) {
					d.inds = append(d.inds, indRef{"url", g})
				}
				continue // The redirector's own link, its query cut, says nothing.
			}
		}
		if links.url(u.Host) {
			continue
		}
		if g, ok := people.URL(u.URL); ok && !links.serviceOnly(u.URL, g) {
			d.inds = append(d.inds, indRef{"url", g})
		}
	}
	// One report is one word for each indicator, however many of its
	// links generalise to the same one.
	slices.SortFunc(d.inds, func(a, b indRef) int { return strings.Compare(a.typ+"\x00"+a.value, b.typ+"\x00"+b.value) })
	d.inds = slices.Compact(d.inds)
	return d
}

// namesPerson reports whether a host spells one of the people (their
// address, local part or name: "bob.durand", "bobdurand"), as the privacy
// scrubbing of links finds it: such a host is never shared as a domain.
func namesPerson(people privacy.People, host string) bool {
	_, ok := people.URL("http://" + host + "/")
	return !ok
}

// spamSender returns the From domain of a report's message as the spam
// run's sender domain, or "" and why not (for the report item's
// unverifiable; "" when the stored report already says it). A finding
// never says what was not established: the domain goes out only when
// the node's own check authenticated it — a DKIM signature of the From's
// organisation, verified here, with no unsigned text after its l= (see
// authenticated). Never SPF: a pass says the relay may send for the
// envelope sender's domain, and a firm's record names its mail
// provider's hosts (a:, mx:, its ranges, +all…) as readily as its own,
// so every customer of that provider passes as the firm. Never an
// Authentication-Results field (or ARC set) the message carries: it is
// the message's, whoever wrote it. A From nothing authenticated is
// anyone's to write — the victim firm's helpdesk in a phish to its
// staff, a bank's exact domain in a phish to its customers — so it is
// not named as the spam run's, whoever its recipients are; a From
// failing the DMARC check its owner published is forged whatever else
// passes. A node on the offline resolver verifies no signature and so
// shares no sender domain; the origin, link domains and links say what
// the spam run is.
//
// A report taken as the spam although it may be a person's forward
// (intake.UnsureOrigin) has a From that is the forwarder's as likely as
// the phisher's (Bob's forward to Alice, passed on to the desk): never
// shared, whatever authenticates it; the stored report says why.
//
// A domain the recipients hold themselves (a spam from their own
// address) is left out by the caller, as every domain of theirs is.
func spamSender(r *intake.Report) (dom, why string) {
	v := r.Verdict
	from := v.Sender.Domains.From
	if from == "" || intake.UnsureOrigin(r.Unverifiable) {
		return "", ""
	}
	a := v.Auth
	if a == nil {
		return "", senderUnverified + "no authentication was checked"
	}
	if a.DMARC.Result == mailauth.Fail && a.DMARC.Source == mailauth.SourceComputed {
		return "", senderUnverified + "its From fails the DMARC check its owner published, as this node computed it"
	}
	if org := dnsname.OrgDomain(from); dnsname.MailboxProvider(org) {
		return "", "sender domain: not shared, since its From is at " + org + ", a mailbox provider: that domain names the provider's many users, not the spam run"
	}
	if authenticated(a, from) {
		if replayedHere(r.Raw, v, from) {
			return "", senderReplayedHere
		}
		if listRewrote(r.Raw, from) {
			return "", "sender domain: not shared, since its From is a mailing list's own address (its List-Id and the list's rewriting of the author's From say so): the list re-sends, under its name and signature, what its members and anyone it lets post send"
		}
		// As an A-label: "pаypal.example" with a Cyrillic а reads as the
		// brand it imitates; "xn--pypal-4ve.example" does not.
		if n, ok := dnsname.Normalize(from); ok {
			return n, ""
		}
		return from, ""
	}
	if a.Offline {
		return "", senderUnverified + "this node's resolver is offline, so it verifies no DKIM signature, and a field of the message saying one passed is the message's word"
	}
	return "", senderUnverified + "this node found no DKIM signature of that domain that it could verify over the whole message (a pass of the sending server's address says only that the server may send for the domain, which a shared mail provider's server may do for every customer)"
}

// senderReplayedHere is the report item's unverifiable when replayedHere
// found the signature delivered to addresses it was not made for.
const senderReplayedHere = "sender domain: not shared, since the DKIM signature that vouches for it covers recipient fields naming none of the addresses the receiving side recorded delivering it to: a mail the domain signed for someone else, sent again (a replay), or one it sent by Bcc, which the node cannot tell apart"

// replayedHere reports whether the signatures that establish from (see
// establishing) were made for other recipients than the ones this copy
// was delivered to: every one of them signs To or Cc, and none of the
// addresses the receiving side recorded (Delivered-To, X-Original-To,
// Envelope-To and the Received fields' "for", above and at the origin's
// hop: what the receiving servers wrote, not what came with the message)
// is named there. A firm's helpdesk answer, signed To the spammer's
// mailbox and sent again from the spammer's server to many, arrives at
// addresses its signed To never named; a delivery to the addressee names
// it. One report is enough to see it, where replays needs a second. The
// price: a domain's own mail sent by Bcc, or forwarded by an alias to
// another address only (the alias's own Delivered-To names it).
// Without a receiving side's record (an upload of the bare message, no
// origin found) nothing is compared.
func replayedHere(raw []byte, v *analysis.Verdict, from string) bool {
	if v.Origin.Hop < 0 || v.Auth == nil {
		return false
	}
	covers := false
	for _, d := range v.Auth.DKIM {
		if d.Source == mailauth.SourceComputed && d.Result == mailauth.Pass && !d.UnsignedText && mailauth.Aligned(d.Domain, from, "r") {
			if !slices.ContainsFunc(d.Headers, func(h string) bool { return strings.EqualFold(h, "to") || strings.EqualFold(h, "cc") }) {
				return false // One establishing signature that leaves them unsigned: nothing to compare.
			}
			covers = true
		}
	}
	if !covers {
		return false
	}
	h := mail.ParseBytes(raw, mail.DefaultLimits()).Header
	named := map[string]bool{}
	var recorded []string
	received := 0
	receiving := true
	for _, f := range h.Fields {
		name := strings.ToLower(f.Name)
		switch name {
		case "to", "cc":
			list, _ := mail.ParseAddressList(f.Value)
			for _, a := range list {
				named[strings.ToLower(a.Addr)] = true
			}
		case "delivered-to", "x-original-to", "envelope-to", "x-envelope-to":
			if receiving {
				for _, a := range receivedFor.FindAllString(f.Value, -1) {
					recorded = append(recorded, strings.ToLower(a))
				}
			}
		case "received":
			// The receiving server's own "for" is the last clause
			// before the date, after its "by": the client's HELO comes
			// before "by", and Exim's "(envelope-from <…>)" after it,
			// both the replayer's to write ("HELO x for <drop@…>").
			if by := byClause.FindAllStringIndex(f.Value, -1); receiving && len(by) > 0 {
				tail := f.Value[by[len(by)-1][0]:]
				if k := strings.LastIndexByte(tail, ';'); k >= 0 {
					tail = tail[:k+1]
				}
				if ms := forAddr.FindAllStringSubmatch(tail, -1); len(ms) > 0 {
					recorded = append(recorded, strings.ToLower(ms[len(ms)-1][1]))
				}
			}
			if received == v.Origin.Hop {
				receiving = false
			}
			received++
		}
	}
	if len(recorded) == 0 {
		return false
	}
	return !slices.ContainsFunc(recorded, func(a string) bool { return named[a] })
}

var (
	receivedFor = regexp.MustCompile(`[^\s<>;,()"]+@[^\s<>;,()"]+`)
	byClause    = regexp.MustCompile(`(?i)\sby\s`)
	forAddr     = regexp.MustCompile(`(?i)\bfor\s+<?([^\s<>;()"]+@[^\s<>;()"]+?)>?(?:[\s;]|$)`)
)

// listOrgOf returns the organisation of the mailing list that carried a
// message — its List-Id's — when it is not the sender's own: the From is
// the list's own address (listRewrote), or the List-Id is at another
// organisation than the From (a spam sent to an open list by Bcc, its
// poster's From kept). Its footer (listinfo, unsubscribe, the
// association's home page) names the list, not the spam run. A sender's
// own newsletter, its List-Id at its own organisation, gives "".
func listOrgOf(raw []byte, from string) string {
	h := listHeader(raw)
	if h == nil {
		return ""
	}
	org := addrOrg(h.Get("List-Id"))
	if org == "" {
		return ""
	}
	if listRewrote(raw, from) {
		return org
	}
	// A list at another organisation than the From: an open list that
	// keeps its poster's From. Its server's name is no test (a list on a
	// hosting provider's server has the provider's; the fifteenth
	// review's C7), so one forged List-Id line naming the spam's landing
	// domain keeps that back too: an evasion, where the test would name
	// the association.
	if org != dnsname.OrgDomain(from) {
		return org
	}
	return ""
}

// listHeader is the header of a message that carries a List-Id field,
// nil for any other (the field looked for first, as few messages carry
// one).
func listHeader(raw []byte) *mail.Header {
	head := raw
	if i := bytes.Index(raw, []byte("\n\r\n")); i >= 0 {
		head = raw[:i+1]
	} else if i := bytes.Index(raw, []byte("\n\n")); i >= 0 {
		head = raw[:i+1]
	}
	if !bytes.Contains(bytes.ToLower(head), []byte("list-id:")) {
		return nil
	}
	h := mail.ParseBytes(head, mail.DefaultLimits()).Header
	return &h
}

// addrOrg is the organisation a list field names: the domain of its
// address or URL, or its List-Id ("Friends <friends.lists.assoc.example>").
func addrOrg(v string) string {
	v = strings.ToLower(strings.TrimSpace(v))
	if i, j := strings.LastIndexByte(v, '<'), strings.LastIndexByte(v, '>'); i >= 0 && j > i {
		v = v[i+1 : j]
	}
	v = strings.TrimPrefix(v, "mailto:")
	if k := strings.LastIndexByte(v, '@'); k >= 0 {
		v = v[k+1:]
	}
	if k := strings.IndexAny(v, "?/"); k >= 0 {
		v = v[:k]
	}
	return dnsname.OrgDomain(strings.TrimSpace(v))
}

// listRewrote reports whether a message's From is a mailing list's own
// address written by the list over its poster's (the DMARC mitigation of
// Mailman and Google Groups): one at the organisation of the message's
// List-Id bearing a mark of the rewriting — a display name "Poster via
// List", a List-Post address there, an X-Original-From — and naming its
// poster at another organisation (Reply-To, Cc or X-Original-From), as
// the lists do. The list signs what it re-sends, so its signature
// establishes the list, not the spam's author: a spam posted to it (or
// Bcc'd to it) would name an association's or a university's list domain
// a spammer's. A sender's own newsletter carries a List-Id too, but
// neither the marks nor a poster elsewhere; a spammer that writes them all
// sends its replies elsewhere and has its domain and links kept back as a
// list's (listOrgOf), as leaving its mail unsigned would have had them.
func listRewrote(raw []byte, from string) bool {
	org := dnsname.OrgDomain(from)
	hp := listHeader(raw)
	if org == "" || hp == nil {
		return false
	}
	h := *hp
	if id := h.Get("List-Id"); id == "" || addrOrg(id) != org {
		return false
	}
	list, _ := mail.ParseAddressList(h.Get("From"))
	marked := h.Get("X-Original-From") != "" || h.Get("List-Post") != "" && addrOrg(h.Get("List-Post")) == org ||
		len(list) == 1 && strings.Contains(strings.ToLower(list[0].Name), " via ")
	if !marked {
		return false
	}
	for _, f := range []string{"Reply-To", "Cc", "X-Original-From"} {
		addrs, _ := mail.ParseAddressList(h.Get(f))
		for _, a := range addrs {
			if d := addrOrg(a.Addr); d != "" && d != org {
				return true
			}
		}
	}
	return false
}

// senderUnverified begins the reason a report item gives for its missing
// sender domain.
const senderUnverified = "sender domain: not shared, since nothing this node checked shows the From's domain sent it: "

// authenticated reports whether the node's own checks (computed through
// its resolver, not read from the message) vouch for the From domain
// from: a DKIM signature that verified, with no unsigned text after its
// l=, whose d= aligns with the From under relaxed alignment (the same
// organisation, by the public suffix list). A mail provider signs each
// customer's mail with that customer's key, so a co-tenant of the firm's
// provider cannot make one.
//
// No SPF pass counts, the domain's "own" record or not: SPF vouches for
// the relay, and a firm's record can authorise its shared provider's
// hosts in ways no check can tell from its own (a:/mx:/ptr:/exists:
// naming them, their ranges written in, a _spf name CNAME'd to them,
// +all). A DMARC pass counts only through that signature, so it adds
// nothing here: one resting on aligned SPF is the same co-tenant's pass,
// and one resting on a signature whose l= leaves text unsigned does not
// reach the DMARC pass at all (mailauth never counts it).
func authenticated(a *mailauth.Results, from string) bool {
	return len(establishing(a, from)) > 0
}

// establishing returns the names (BHash, the SHA-256 of the decoded b=)
// of the signatures that authenticate from (see authenticated): what
// replays groups reports by.
func establishing(a *mailauth.Results, from string) []string {
	var out []string
	for _, d := range a.DKIM {
		if d.Source == mailauth.SourceComputed && d.Result == mailauth.Pass && !d.UnsignedText && mailauth.Aligned(d.Domain, from, "r") {
			out = append(out, d.BHash)
		}
	}
	return out
}

// senderReplayed is the report item's unverifiable when replays found
// its establishing signature in another report.
const senderReplayed = "sender domain: not shared, since the DKIM signature that vouched for it was also seen by this node in another report, to other recipients or from another origin: a mail the domain signed sent again by someone else (a replay) or one signed mail sent to several, which the node cannot tell apart"

// replays returns the reports whose sender domain rests on a DKIM
// signature seen in another report with other recipients or another
// origin IP. A signature is made once, for one mail: a firm's helpdesk
// answer to a spammer, quoting the spammer's text and sent again from the
// spammer's server to many, verifies as the firm's in every copy, and
// only the copies' recipients and origin tell it from the firm's own
// delivery. The same mail reported twice by its recipient (a duplicate
// report) has the same recipients and origin and stays shared. The
// price: a spammer's own domain sending one signed mail to several (by
// Bcc) is withheld too, and with it (in assemble) its links to its own
// organisation, since a replayed mail is the signer's own (a helpdesk's
// footer). Every report's part is held in memory, so this
// is decided again at each collection over all the reports held: a
// report's item shared while it was alone changes when a second one
// arrives, and what stops flowing is withdrawn from partners.
func replays(refs []ReportRef, parts map[string]*derived) map[string]bool {
	type seen struct{ recips, origin string }
	first := map[string]seen{}
	bad := map[string]bool{}
	for _, r := range refs {
		d := parts[r.ID]
		if d == nil {
			continue
		}
		for _, h := range d.sigs {
			s, ok := first[h]
			switch {
			case h == "": // Never so for a verified signature; no name, nothing to group by.
			case !ok:
				first[h] = seen{d.recipKey, d.origin}
			case s.recips != d.recipKey || s.origin != d.origin:
				bad[h] = true
			}
		}
	}
	out := map[string]bool{}
	for _, r := range refs {
		if d := parts[r.ID]; d != nil && slices.ContainsFunc(d.sigs, func(h string) bool { return bad[h] }) {
			out[r.ID] = true
		}
	}
	return out
}

// assemble builds the shared set from the reports' parts, in the index's
// order (campaign, then arrival). A report the index named but that was
// gone when read is left out.
func assemble(src Source, version, jurisdiction string, refs []ReportRef, parts map[string]*derived, wh withheldSet) *Shared {
	sh := &Shared{Version: version, jurisdiction: jurisdiction, src: src, lazy: map[string]int{}}
	inds := map[string]*indicator{}
	// The recipients of each indicator's reports, by their sorted
	// addresses: what an agreement's min_reports counts (one person's
	// report of a mail twice is one).
	recipsOf := map[string]*voices{}
	addInd := func(typ, value, country string, at time.Time, reporter, recipKey string) {
		if value == "" {
			return
		}
		k := typ + ":" + value
		in := inds[k]
		if in == nil {
			in = &indicator{Type: typ, Value: value, First: at, Last: at}
			inds[k] = in
			recipsOf[k] = &voices{}
		}
		recipsOf[k].add(reporter, recipKey)
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
	var allAddrs, allMentioned, allNames []string
	var camps []*campaignAcc
	var cur *campaignAcc
	replayed := replays(refs, parts)
	for _, r := range refs {
		d := parts[r.ID]
		if d == nil {
			continue
		}
		rep, sender, senderInd := d.rep, d.sender, d.senderInd
		signers := func(string) bool { return false }
		if replayed[r.ID] {
			rep, sender, senderInd = d.repReplayed, "", ""
			// A replayed mail is the signer's own: its links to the
			// signer's organisation (a helpdesk's footer) are not the
			// spam run's either.
			org := dnsname.OrgDomain(d.sender)
			signers = func(host string) bool { return dnsname.OrgDomain(host) == org }
		}
		// A sender the analyst marked as not the spammer's: the report
		// names no sender domain, and says why; its indicator is withheld
		// below, like every one at the domain. Its sender is established
		// (spamSender), so the origin is the firm's own mail server:
		// neither its address nor its network is named either. A subject
		// naming a marked domain loses it.
		firms := wh.at(sender) != ""
		if firms || wh.mentions(d.subject) {
			rep = withheldReport(rep, wh, firms)
			if firms {
				sender = ""
			}
		}
		if cur == nil || cur.id != r.CampaignID {
			cur = &campaignAcc{id: r.CampaignID, first: r.ReceivedAt, countries: map[string]int{}, networks: map[string]int{},
				senders: map[string]int{}, domains: map[string]int{}, finding: map[string]int{}, recipients: &voices{}}
			camps = append(camps, cur)
		}
		allAddrs, allNames = append(allAddrs, d.recips...), append(allNames, d.names...)
		allMentioned = append(allMentioned, d.mention...)
		cur.addrs, cur.names = append(cur.addrs, d.recips...), append(cur.names, d.names...)
		cur.mentioned = append(cur.mentioned, d.mention...)
		cur.reports++
		cur.recipients.add(r.Reporter, d.recipKey)
		if r.ReceivedAt.Before(cur.first) {
			cur.first = r.ReceivedAt
		}
		if r.ReceivedAt.After(cur.last) {
			cur.last = r.ReceivedAt
		}
		country := d.country
		if d.verdict && cur.subject == "" {
			cur.subject = wh.cut(d.subject)
		}
		sh.recs = append(sh.recs, statRec{at: r.ReceivedAt, id: r.ID, country: country, campaign: r.CampaignID})
		if country == "" {
			cur.unknown = true
		} else if !contains(cur.origins, country) {
			cur.origins = append(cur.origins, country)
		}
		cur.items = append(cur.items, rep, d.ev)
		sh.lazy[d.ev.Key] = d.evSize
		if !d.verdict {
			continue
		}
		count(cur.countries, country)
		if !firms {
			count(cur.networks, d.network)
		}
		count(cur.senders, sender)
		for _, x := range d.domains {
			if !signers(x) && wh.at(x) == "" {
				count(cur.domains, x)
			}
		}
		for _, x := range d.findings {
			count(cur.finding, x)
		}
		for _, in := range d.inds {
			if in.typ == "domain-name" && signers(in.value) || in.typ == "url" && signers(urlHost(in.value)) {
				continue
			}
			if firms && (in.typ == "ipv4-addr" || in.typ == "ipv6-addr") {
				continue
			}
			addInd(in.typ, in.value, country, r.ReceivedAt, r.Reporter, d.recipKey)
		}
		// A sender domain that is also one of the report's link domains
		// is one report's word, counted once.
		if senderInd != "" && !slices.Contains(d.inds, indRef{"domain-name", senderInd}) {
			addInd("domain-name", senderInd, country, r.ReceivedAt, r.Reporter, d.recipKey)
		}
	}
	// What identifies anyone stays out of the lists of the campaign they
	// are in; the indicators were already cut per report (derive). Never
	// node-wide: recipient fields are the spammer's to write, and one spam
	// "to" its own domain would hide that domain from every report.
	all := privacy.NewMentioned(allAddrs, allMentioned, allNames)
	// The statistics count the oldest reports first (by arrival, then
	// id), so the counted set only ever grows by the newest.
	sort.Slice(sh.recs, func(i, j int) bool {
		a, b := sh.recs[i], sh.recs[j]
		return a.at.Before(b.at) || a.at.Equal(b.at) && a.id < b.id
	})
	for _, c := range camps {
		sort.Strings(c.origins)
		origins := c.origins
		if c.unknown {
			// A campaign with reports of unknown origin cannot be shown to
			// come only from the allowed jurisdictions.
			origins = append(origins, "unknown")
		}
		g := Group{ID: "campaign:" + c.id, Items: c.items}
		people := privacy.NewMentioned(c.addrs, c.mentioned, c.names)
		personal := func(v string) bool { return people.HoldsDomain(v) || people.IsAddress(v) }
		g.Items = append(g.Items, mkItem("camp:"+c.id, KindCampaigns, tlpCampaign, origins, false, c.id, c.last, campaignBody{
			ID: c.id, Subject: people.Text(c.subject), Reports: c.reports, FirstSeen: c.first.UTC(), LastSeen: c.last.UTC(),
			Countries: top(c.countries, nil), Networks: top(c.networks, nil), Senders: top(c.senders, personal),
			Domains: top(c.domains, personal), Findings: top(c.finding, nil), Source: jurisdiction,
		}))
		// A campaign, its reports and its evidence name a sender after as
		// many recipients' reports as the campaign holds: an agreement's
		// min_reports asks that many before any of them goes, as it does
		// of an indicator.
		for i := range g.Items {
			g.Items[i].Count = c.recipients.count()
		}
		sh.Groups = append(sh.Groups, g)
	}
	ig := Group{ID: "indicators"}
	keys := make([]string, 0, len(inds))
	for k := range inds {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		in := inds[k]
		if in.Type == "email-addr" && all.IsAddress(in.Value) || strings.Contains(in.Value, "@") {
			continue
		}
		sort.Strings(in.Origins)
		it := mkItem("ind:"+k, KindIndicators, tlpIndicator, in.Origins, false, "", in.Last, in)
		it.Count = recipsOf[k].count()
		host := in.Value
		if in.Type == "url" {
			host = urlHost(in.Value)
		}
		if dom := wh.at(host); dom != "" && in.Type != "ipv4-addr" && in.Type != "ipv6-addr" {
			it.Withheld, it.withheldBy = withheldReason(dom), dom
		}
		ig.Items = append(ig.Items, it)
	}
	if len(ig.Items) > 0 {
		sh.Groups = append(sh.Groups, ig)
	}
	return sh
}

// urlHost is the host of a link indicator, "" when it has none.
func urlHost(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return ""
	}
	return p.Hostname()
}

// Size is the size of an item's body, made or not.
func (s *Shared) Size(it Item) int {
	if it.Body == nil {
		if n, ok := s.lazy[it.Key]; ok {
			return n
		}
	}
	return len(it.Body)
}

// Bodies returns items with every body made: the evidence the shared set
// keeps as its hash only is redacted again from its report, and checked
// against that hash (the redaction is deterministic). A report changed or
// gone since the collection is ErrChanged: what was decided on can no
// longer be made.
func (s *Shared) Bodies(ctx context.Context, items []Item) ([]Item, error) {
	out := append([]Item(nil), items...)
	at := map[string]int{}
	var ids []string
	for i, it := range out {
		if _, lazy := s.lazy[it.Key]; lazy && it.Body == nil {
			id := strings.TrimPrefix(it.Key, "ev:")
			at[id] = i
			ids = append(ids, id)
		}
	}
	for len(ids) > 0 {
		n := min(len(ids), readBatch)
		err := s.src.SharedReports(ctx, ids[:n], func(r *intake.Report, reporter string) error {
			i, ok := at[r.ID]
			if !ok {
				return nil
			}
			ev, _ := evidenceOf(r, keptApart(r, reporter))
			b, err := json.Marshal(ev)
			if err != nil {
				return err
			}
			if HashBody(b) != out[i].Hash {
				return fmt.Errorf("%w: evidence of report %s", ErrChanged, r.ID)
			}
			out[i].Body = b
			delete(at, r.ID)
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("evidence bodies: %w", err)
		}
		ids = ids[n:]
	}
	for id := range at {
		return nil, fmt.Errorf("%w: report %s is no longer held", ErrChanged, id)
	}
	return out, nil
}

// voices counts the people whose reports bear something out, for an
// agreement's min_reports. Each named reporter is one person, however
// many copies they report and whatever recipients the spammer wrote in
// them (the thirteenth review's A10, the sixteenth's M2). Anonymous
// reports count by their recipients — one person for each recipient set
// — and not at all when a named report has the same recipients: it may
// be that person's (reporting from the mailbox, then by the form: the
// fourteenth review's B6). An anonymous report never joins two named
// reporters into one (the seventeenth and eighteenth reviews' M2: the
// spammer writes the recipient fields). An empty recipient set (a Bcc
// delivery) says nothing of who received the copy: such an anonymous
// report is one person of its own.
type voices struct {
	named    map[string]bool // Reporters.
	namedTo  map[string]bool // Recipient sets of named reports.
	anonTo   map[string]bool // Recipient sets of anonymous reports.
	anonNone int             // Anonymous reports with no recipients.
}

func (v *voices) add(reporter, recipKey string) {
	if v.named == nil {
		v.named, v.namedTo, v.anonTo = map[string]bool{}, map[string]bool{}, map[string]bool{}
	}
	switch {
	case reporter != "":
		v.named[reporter] = true
		if recipKey != "" {
			v.namedTo[recipKey] = true
		}
	case recipKey == "":
		v.anonNone++
	default:
		v.anonTo[recipKey] = true
	}
}

func (v *voices) count() int {
	n := len(v.named) + v.anonNone
	for k := range v.anonTo {
		if !v.namedTo[k] {
			n++
		}
	}
	return n
}
