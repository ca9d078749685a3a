package consent

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Link is the opt-out a sender puts in one message to one recipient.
type Link struct {
	Recipient  string `json:"recipient"`
	Suppressed bool   `json:"suppressed"` // Do not send: the recipient opted out (no link is made).
	// ConsentOnRecord says the node holds an active record (consent, or
	// a soft opt-in) for the recipient on the list. A link is made
	// without one — every message needs its opt-out — but a mailing to
	// such a recipient gets no label and counts for nothing.
	ConsentOnRecord bool   `json:"consent_on_record"`
	Token           string `json:"token,omitempty"`
	URL             string `json:"url,omitempty"`    // https://node/u/TOKEN: GET shows a page, POST unsubscribes.
	Mailto          string `json:"mailto,omitempty"` // unsubscribe+TOKEN@node.
	// ListUnsubscribe and ListUnsubscribePost are the header fields'
	// values (RFC 2369, RFC 8058). Sign both with DKIM (RFC 8058 section 4).
	ListUnsubscribe     string `json:"list_unsubscribe,omitempty"`
	ListUnsubscribePost string `json:"list_unsubscribe_post,omitempty"`
}

// MaxLinks bounds one request for links: each link is a read and a write
// of the store, and the senders' rate limit counts requests, so a request
// holds the store's writer for at most a thousand of them.
const MaxLinks = 1000

// Links makes the opt-out links for a mailing of list to recipients, and
// counts them in the campaign (campaign "" for none). A suppressed
// recipient gets no link but Suppressed: the check before sending.
//
// The campaign's count of messages — the divisor of its complaint rate —
// counts only the links for recipients whose consent the node saw
// confirmed (an active record on the list the recipient confirmed from
// the node's mail), at a domain that is neither reserved (RFC 2606, RFC
// 6761: .invalid, .test, .localhost, .example, .local, example.com,
// example.net, example.org) nor one of the
// sender's own: links for made-up or the sender's own addresses cost
// nothing to make and would dilute the rate. A recipient counts once per
// campaign, however many links are made for them. The links themselves
// are made for everyone.
func (s *Service) Links(ctx context.Context, sender, list, campaign string, recipients []string) ([]Link, error) {
	sd, err := s.activeSender(ctx, sender)
	if err != nil {
		return nil, err
	}
	if list, err = checkList(list); err != nil {
		return nil, err
	}
	if campaign != "" {
		if campaign, err = checkList(campaign); err != nil {
			return nil, invalid("campaign", "%q: a campaign name is 1 to 64 characters: letters, digits, '.', '_' or '-'", campaign)
		}
	}
	if len(recipients) == 0 || len(recipients) > MaxLinks {
		return nil, invalid("recipients", "give 1 to %d recipients", MaxLinks)
	}
	if s.o.BaseURL == "" || s.o.MailHost == "" {
		return nil, errors.New("consent: the node's public URL and mail domain are needed to make opt-out links")
	}
	type item struct {
		addrKeys
	}
	items := make([]item, len(recipients))
	for i, r := range recipients {
		k, err := s.keysOf(sd.ID, r)
		if err != nil {
			return nil, fmt.Errorf("recipient %d: %w", i+1, err)
		}
		items[i] = item{k}
	}
	listRef, err := s.st.ListRef(ctx, sd.ID, list)
	if err != nil {
		return nil, err
	}
	out := make([]Link, len(items))
	refs := make([]int64, len(items))
	var counted []int64 // the refs of recipients who count as messages
	onRecord := make([]bool, len(items))
	day := s.now()
	// What the links need, read for the whole request at once — a few
	// statements per request, not 4 per recipient (BenchmarkLinks).
	var hashes, mailboxes []string
	for _, it := range items {
		hashes = append(append(hashes, it.hash), it.legacy...)
		mailboxes = append(mailboxes, it.mailbox)
	}
	byMailbox, err := s.st.MailboxRecipients(ctx, sd.ID, mailboxes)
	if err != nil {
		return nil, err
	}
	keys := slices.Clone(hashes)
	for _, hs := range byMailbox {
		keys = append(keys, hs...)
	}
	sups, err := s.st.SuppressedMany(ctx, sd.ID, keys)
	if err != nil {
		return nil, err
	}
	var open []int // the recipients not suppressed on the list
	for i, it := range items {
		out[i].Recipient = it.addr
		if suppressedOn(batchSuppressions(it.addrKeys, sups, byMailbox), list) {
			out[i].Suppressed = true
			continue
		}
		open = append(open, i)
	}
	openHashes, openMailboxes := make([]string, len(open)), make([]string, len(open))
	for j, i := range open {
		openHashes[j], openMailboxes[j] = items[i].hash, items[i].mailbox
	}
	// The ref files the mailbox with a recipient seen for the first
	// time: no write for one the node knows.
	openRefs, err := s.st.RecipientRefs(ctx, sd.ID, openHashes, openMailboxes)
	if err != nil {
		return nil, err
	}
	records, err := s.st.RecordsMany(ctx, sd.ID, openHashes)
	if err != nil {
		return nil, err
	}
	for j, i := range open {
		refs[i] = openRefs[j]
		recs := records[items[i].hash]
		onRecord[i] = activeOn(recs, list)
		if measurable(items[i].addr, sd) && confirmedOn(recs, list) {
			counted = append(counted, refs[i])
		}
	}
	var campRef int64
	if campaign != "" {
		if campRef, err = s.st.CampaignRef(ctx, sd.ID, list, campaign, 0); err != nil {
			return nil, err
		}
		// One recipient is one message of the campaign, however many
		// links are asked for them, in one request or many.
		if _, err := s.st.CountIssued(ctx, campRef, counted); err != nil {
			return nil, err
		}
	}
	for i := range out {
		if out[i].Suppressed {
			continue
		}
		tok, err := s.seal.seal(TokenRef{Recipient: refs[i], List: listRef, Campaign: campRef, Issued: day})
		if err != nil {
			return nil, err
		}
		out[i] = s.link(out[i].Recipient, tok)
		out[i].ConsentOnRecord = onRecord[i]
	}
	return out, nil
}

// batchSuppressions is suppressionsOf from Links' batched reads: the
// suppressions under the address's key, under its legacy keys, and under
// every other key filed with its mailbox.
func batchSuppressions(k addrKeys, sups map[string][]Suppression, byMailbox map[string][]string) []Suppression {
	out := slices.Clone(sups[k.hash])
	for _, h := range k.legacy {
		out = append(out, sups[h]...)
	}
	var other []Suppression
	for _, h := range byMailbox[k.mailbox] {
		if h != k.hash && !slices.Contains(k.legacy, h) {
			other = append(other, sups[h]...)
		}
	}
	slices.SortFunc(other, func(a, b Suppression) int { return cmp.Compare(a.Seq, b.Seq) })
	return append(out, other...)
}

// link makes one recipient's opt-out link. The mailto address is left
// out when the node's mail domain is a single label (localhost, the
// default of a node whose [smtp] hostname is unset): no one outside the
// machine can reach it, and an opt-out address that cannot be reached is
// no opt-out address (RFC 2369 targets must work for the recipient).
func (s *Service) link(recipient, tok string) Link {
	l := Link{Recipient: recipient, Token: tok, URL: s.o.BaseURL + "/u/" + tok}
	l.ListUnsubscribe = "<" + l.URL + ">"
	if MailHostReachable(s.o.MailHost) {
		l.Mailto = "unsubscribe+" + tok + "@" + s.o.MailHost
		l.ListUnsubscribe += ", <mailto:" + l.Mailto + "?subject=unsubscribe>"
	}
	l.ListUnsubscribePost = "List-Unsubscribe=One-Click"
	return l
}

// MailHostReachable reports whether opt-out addresses at host can reach
// the node from elsewhere: a name with a dot, not under .localhost.
func MailHostReachable(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return strings.Contains(host, ".") && host != "localhost" && !strings.HasSuffix(host, ".localhost")
}

// activeOn reports whether records hold an active record on list.
func activeOn(recs []Record, list string) bool {
	for _, r := range recs {
		if r.List == list && r.Status == RecordActive {
			return true
		}
	}
	return false
}

// confirmedOn reports whether records hold an active, confirmed record on
// list.
func confirmedOn(recs []Record, list string) bool {
	for _, r := range recs {
		if r.List == list && r.Status == RecordActive && r.Confirmed {
			return true
		}
	}
	return false
}

// measurable reports whether mail to a normalized address can count in a
// sender's volume: not at a reserved domain, nor at the sender's own.
func measurable(addr string, sd Sender) bool {
	dom := addr[strings.LastIndexByte(addr, '@')+1:]
	if reservedDomain(dom) {
		return false
	}
	for _, d := range sd.Domains {
		if dom == d || strings.HasSuffix(dom, "."+d) {
			return false
		}
	}
	return true
}

// reservedDomain reports whether a domain is under a name reserved for
// tests, documentation or local use (RFC 2606, RFC 6761, RFC 6762): no
// one's mailbox. The second-level example names (RFC 2606 section 3) are
// the docs' own example addresses, the first a sender tries the node with.
func reservedDomain(dom string) bool {
	dom = strings.ToLower(strings.TrimSuffix(dom, "."))
	for _, tld := range []string{"invalid", "test", "localhost", "example", "local"} {
		if dom == tld || strings.HasSuffix(dom, "."+tld) {
			return true
		}
	}
	for _, d := range []string{"example.com", "example.net", "example.org"} {
		if dom == d || strings.HasSuffix(dom, "."+d) {
			return true
		}
	}
	return false
}

func suppressedOn(sup []Suppression, list string) bool {
	_, ok := SuppressedOn(sup, list)
	return ok
}

// SuppressedOn returns the suppression in force that keeps a recipient
// off list ("": off any list), from the recipient's suppressions. One on
// the list counts, and one on every list (List "") — except for a list
// the recipient confirmed again after that opt-out: confirming one list
// lifts the opt-out for that list only, as a lifted row of its own
// (Exception) while the all-lists suppression stays in force for the
// others.
func SuppressedOn(sup []Suppression, list string) (Suppression, bool) {
	for _, x := range sup {
		if x.Lifted {
			continue
		}
		if list == "" || x.List == list || x.List == "" && !Exception(sup, x, list) {
			return x, true
		}
	}
	return Suppression{}, false
}

// Exception reports whether list is excepted from the all-lists
// suppression all: the recipient confirmed it after all was requested
// (its row on the list was lifted since).
func Exception(sup []Suppression, all Suppression, list string) bool {
	for _, y := range sup {
		if y.List == list && list != "" && y.Lifted && !y.LiftedAt.Before(all.RequestedAt) {
			return true
		}
	}
	return false
}

// exceptions returns the lists excepted from the all-lists suppression in
// force, as their (lifted) rows.
func exceptions(sup []Suppression) []Suppression {
	var out []Suppression
	for _, x := range sup {
		if x.Lifted || x.List != "" {
			continue
		}
		for _, y := range sup {
			if y.List != "" && Exception(sup, x, y.List) {
				out = append(out, y)
			}
		}
	}
	return out
}

// UnsubscribeView is what an unsubscribe token stands for, for the page.
type UnsubscribeView struct {
	Sender   Sender
	List     string
	Campaign string
	Already  bool // The recipient is suppressed on this list already.
	Stale    bool // The token predates the recipient's renewed consent.
	ref      TokenRef
	hash     string
}

// OpenUnsubscribe reads a token without acting on it: the GET of the link
// shows a page with a button and never unsubscribes (link scanners GET).
func (s *Service) OpenUnsubscribe(ctx context.Context, tok string) (UnsubscribeView, error) {
	ref, err := s.seal.open(tok)
	if err != nil {
		return UnsubscribeView{}, err
	}
	sender, hash, err := s.st.Recipient(ctx, ref.Recipient)
	if err != nil {
		return UnsubscribeView{}, ErrBadToken // a valid MAC over references this node never made: a lost database, or a bug
	}
	lsender, list, err := s.st.ListName(ctx, ref.List)
	if err != nil || lsender != sender {
		return UnsubscribeView{}, ErrBadToken
	}
	sd, err := s.st.Sender(ctx, sender)
	if err != nil {
		return UnsubscribeView{}, ErrBadToken
	}
	v := UnsubscribeView{Sender: sd, List: list, ref: ref, hash: hash}
	if ref.Campaign != 0 {
		if c, err := s.st.CampaignByRef(ctx, ref.Campaign); err == nil && c.Sender == sender {
			v.Campaign = c.Name
		}
	}
	sup, err := s.st.Suppressed(ctx, sender, hash)
	if err != nil {
		return UnsubscribeView{}, err
	}
	v.Already = suppressedOn(sup, list)
	if !v.Already {
		recs, err := s.st.Records(ctx, sender, hash)
		if err != nil {
			return UnsubscribeView{}, err
		}
		// A token made before the recipient came back by confirmed opt-in
		// (a later day) is a replay of an old message's link: it must not
		// undo the renewed consent. A link from a newer message works.
		for _, r := range recs {
			if r.List == list && r.Status == RecordActive && r.Confirmed && r.ConfirmedAt.After(ref.Issued.Add(24*time.Hour)) {
				for _, x := range sup {
					if x.Lifted && (x.List == list || x.List == "") && x.LiftedAt.After(ref.Issued.Add(24*time.Hour)) {
						v.Stale = true
					}
				}
			}
		}
	}
	return v, nil
}

// UnsubscribeResult says what an unsubscribe did.
type UnsubscribeResult struct {
	UnsubscribeView
	Suppression Suppression
}

// ErrStale is an unsubscribe token older than the recipient's renewed
// consent to the list.
var ErrStale = errors.New("consent: this unsubscribe link predates the recipient's renewed subscription")

// Unsubscribe acts on a token: from the one-click POST (RFC 8058), the
// page's button, or a mail to the unsubscribe address. The recipient is
// suppressed at once; a second use changes nothing and says so. all
// extends it to every list of the sender.
func (s *Service) Unsubscribe(ctx context.Context, tok, via string, all bool, cl Client) (UnsubscribeResult, error) {
	v, err := s.OpenUnsubscribe(ctx, tok)
	if err != nil {
		return UnsubscribeResult{}, err
	}
	if v.Stale {
		s.st.Apply(ctx, Change{Sender: v.Sender.ID, Events: []Event{{At: s.now(), Kind: EventStaleToken, Recipient: v.hash, List: v.List,
			Detail: cl.detail(map[string]string{"via": via, "token_issued": v.ref.Issued.Format("2006-01-02")})}}})
		return UnsubscribeResult{UnsubscribeView: v}, ErrStale
	}
	list := v.List
	if all {
		list = ""
	}
	d := map[string]string{"token_issued": v.ref.Issued.Format("2006-01-02")}
	if v.Campaign != "" {
		d["campaign"] = v.Campaign
	}
	if all {
		d["list_of_link"] = v.List
	}
	sup, already, err := s.suppress(ctx, v.Sender, v.hash, list, via, cl, d, EventUnsubscribed, true)
	if err != nil {
		return UnsubscribeResult{}, err
	}
	v.Already = already
	return UnsubscribeResult{UnsubscribeView: v, Suppression: sup}, nil
}

// FeedQuery selects suppression changes: after a cursor (a Seq), or
// made at or after a time, or both.
type FeedQuery struct {
	After int64
	Since time.Time
	Limit int // At most 10,000 (the default).
}

// Feed returns the sender's suppression changes and marks them fetched:
// the sender's software calls it to sync, and the time of the first fetch
// is when the node counts the opt-out as handed over.
func (s *Service) Feed(ctx context.Context, sender string, q FeedQuery) ([]Suppression, error) {
	if q.Limit <= 0 || q.Limit > 10000 {
		q.Limit = 10000
	}
	return s.st.SuppressionFeed(ctx, sender, q, s.now())
}

// Overdue lists the suppressions not fetched by their deadline (sender ""
// for every sender).
func (s *Service) Overdue(ctx context.Context, sender string) ([]Suppression, error) {
	return s.st.Overdue(ctx, sender, s.now())
}

// EventSentReported is a sender's count of a campaign's messages, as
// claimed and as accepted, in its log.
const EventSentReported = "campaign-sent-reported"

// ReportSent records how many messages a campaign went to, when that is
// more than the links made for it (complaint rates divide by it). It is
// the sender's claim, so it is bounded by what the node can see: a
// campaign goes at most to the larger of the links counted for it (those
// for recipients with confirmed consent, see Links) and the number of
// recipients with an active, confirmed record (any list) — records and
// links the sender alone vouches for cost nothing to make, and mailing
// more people than the node saw confirm is no defence. It returns the count accepted, and
// logs the claim and the count in the sender's chained log.
func (s *Service) ReportSent(ctx context.Context, sender, list, campaign string, sent int64) (int64, error) {
	sd, err := s.st.Sender(ctx, sender)
	if err != nil {
		return 0, err
	}
	if list, err = checkList(list); err != nil {
		return 0, err
	}
	if campaign, err = checkList(campaign); err != nil {
		return 0, invalid("campaign", "%q: a campaign name is 1 to 64 characters: letters, digits, '.', '_' or '-'", campaign)
	}
	if sent < 0 || sent > 1<<40 {
		return 0, invalid("sent", "out of range")
	}
	bound, err := s.st.ConfirmedRecipients(ctx, sd.ID)
	if err != nil {
		return 0, err
	}
	accepted := min(sent, int64(bound))
	cs, err := s.st.SenderCampaigns(ctx, sd.ID)
	if err != nil {
		return 0, err
	}
	for _, c := range cs {
		if c.List == list && c.Name == campaign {
			accepted = min(sent, max(int64(bound), c.Issued))
		}
	}
	if err := s.st.ReportSent(ctx, sd.ID, list, campaign, accepted); err != nil {
		return 0, err
	}
	_, err = s.st.Apply(ctx, Change{Sender: sd.ID, Events: []Event{{At: s.now(), Kind: EventSentReported, List: list,
		Detail: map[string]string{"campaign": campaign, "claimed": fmt.Sprint(sent), "accepted": fmt.Sprint(accepted)}}}})
	return accepted, err
}

// MailtoToken returns the token of an opt-out address
// ("unsubscribe+TOKEN@…", any case), and whether the address is one. The
// token's MAC is checked: err is ErrBadToken for a forged one, so a mail
// server can refuse it at RCPT.
func (s *Service) MailtoToken(addr string) (tok string, isOptOut bool, err error) {
	local, _, ok := strings.Cut(strings.Trim(addr, "<> "), "@")
	if !ok || len(local) < len("unsubscribe+") || !strings.EqualFold(local[:len("unsubscribe+")], "unsubscribe+") {
		return "", false, nil
	}
	tok = strings.ToLower(local[len("unsubscribe+"):])
	if _, err := s.seal.open(tok); err != nil {
		return "", true, err
	}
	return tok, true, nil
}
