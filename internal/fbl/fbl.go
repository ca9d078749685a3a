// Package fbl feeds complaints back to registered senders: a complaint at
// the desk about a sender's message — tied to the sender by the node's
// opt-out token in the message, the node's label, or a DKIM signature by
// one of its domains — is forwarded to the sender as an ARF report (RFC
// 5965) with the recipient redacted (RFC 6590), suppresses the complaining
// recipient at once, counts in the sender's complaint rate, and is marked
// "consent on record" for the authority when the recipient had consented.
//
// The processor follows the desk's custody log (the "received" entries,
// in commit order) from a cursor kept in the store, so a complaint
// committed while the node stops is fed back when it starts again; the
// desk wakes it after each commit. Where several instances share one
// store, one of them at a time runs it, under a lease (Processor.Lease).
package fbl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/consent"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/label"
	"github.com/accord-antispam/accord/internal/lease"
	"github.com/accord-antispam/accord/internal/mailauth"
	"github.com/accord-antispam/accord/internal/trace"
)

// Received is one report in the desk's custody log.
type Received struct {
	Seq      int64
	ReportID string
}

// Store is the processor's cursor over the desk's custody log.
type Store interface {
	// ReceivedAfter lists the reports received after seq, in commit order.
	ReceivedAfter(ctx context.Context, seq int64, limit int) ([]Received, error)
	// CustodySeq is the custody log's last seq.
	CustodySeq(ctx context.Context) (int64, error)
	// FeedbackCursor returns the last seq processed; ok is false before
	// the first run.
	FeedbackCursor(ctx context.Context) (seq int64, ok bool, err error)
	SetFeedbackCursor(ctx context.Context, seq int64) error
	// FeedbackState is the custody log's last seq and whether any sender
	// is registered (with none, no report can be tied to one, and none is
	// read), in one read.
	FeedbackState(ctx context.Context) (head int64, senders bool, err error)
	// ReportHead is the report with its message cut to the first n bytes:
	// its header and verdict are what ties it to a sender; the whole
	// message (up to the upload limit) is read only to forward it.
	ReportHead(ctx context.Context, id string, n int) (*intake.Report, error)
}

// headBytes is how much of a reported message is read to tie it to a
// sender: the parser's bound on a header block.
const headBytes = 512 << 10

// New returns a processor to fill in before Run; Notify may be called
// from the start.
func New() *Processor { return &Processor{wake: make(chan struct{}, 1)} }

// Processor feeds complaints back. Make it with New.
type Processor struct {
	Store   Store
	Reports intake.Store
	Consent *consent.Service
	Mailer  consent.Mailer // nil: complaints are recorded and suppress, but nothing is mailed.
	// Labels, when set, is where this node's labels are revoked: a label
	// on a message its recipient complained about vouches for it no
	// longer (the filter scored it −3 until it expired).
	Labels label.Store
	Node   string // The node's name, in the reports.
	Log    *slog.Logger
	Now    func() time.Time
	// Lease, when set, is this instance's claim to run the loop: Run
	// processes only while it holds it, so of the instances sharing a
	// store one reads the custody log, and another takes over when it
	// stops or dies (once the lease runs out). nil: always.
	Lease *lease.Holder
	// Poll is how often Run looks for reports when not woken (30 s; with
	// a Lease, 2 s, since the other instances' commits do not wake it).
	Poll time.Duration

	wake chan struct{}

	// The cursor, in memory once read: it is written to the store at once
	// past a report tied to a sender, otherwise at most every cursorEvery
	// (a report tied to nobody changes nothing, so reading it again after
	// a crash costs a read, while writing the cursor after every commit
	// cost a durable write each time), and when Run stops.
	mu      sync.Mutex
	cur     int64
	known   bool
	saved   int64
	savedAt time.Time
}

// cursorEvery is how often a cursor that moved past reports tied to nobody
// is written down.
const cursorEvery = 10 * time.Second

// Notify wakes the processor (the desk calls it after each commit). It
// never blocks.
func (p *Processor) Notify() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *Processor) log() *slog.Logger {
	if p.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Log
}

func (p *Processor) now() time.Time {
	if p.Now == nil {
		return time.Now()
	}
	return p.Now()
}

// Run processes what is new whenever woken, and every Poll, until ctx
// ends; with a Lease, only while it holds it. The first run of a node
// starts at the custody log's end: old reports are not fed back.
func (p *Processor) Run(ctx context.Context) {
	poll := p.Poll
	if poll <= 0 {
		poll = 30 * time.Second
		if p.Lease != nil {
			poll = 2 * time.Second
		}
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	defer p.stop(ctx)
	for {
		if _, _, err := p.Step(ctx); err != nil && ctx.Err() == nil {
			p.log().Error("feedback: process complaints", "err", err)
		}
		last := time.Now()
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
			// Woken after every commit: at most one pass every
			// stepEvery, taking all that came meanwhile.
			select {
			case <-ctx.Done():
				return
			case <-time.After(stepEvery - time.Since(last)):
			}
		case <-t.C:
		}
	}
}

// stepEvery is the least time between two passes Run makes when the desk
// wakes it: a commit every few milliseconds under load woke it for each
// one, two reads every time.
const stepEvery = 200 * time.Millisecond

// Step is what Run does each time it wakes: process what is new if this
// instance holds the lease (or has none to hold). It says whether it did,
// and how many complaints it tied to a sender.
func (p *Processor) Step(ctx context.Context) (bool, int, error) {
	if !p.owns(ctx) {
		return false, 0, nil
	}
	n, err := p.Process(ctx)
	return true, n, err
}

// owns says whether this instance is to process now; an instance that
// loses the lease forgets its cursor, to read it again from the store
// when it holds the lease next (another instance moved it meanwhile).
func (p *Processor) owns(ctx context.Context) bool {
	if p.Lease == nil {
		return true
	}
	held, err := p.Lease.Held(ctx)
	if err != nil && ctx.Err() == nil {
		p.log().Warn("feedback: the lease", "err", err)
	}
	if !held {
		p.mu.Lock()
		p.known = false
		p.mu.Unlock()
	}
	return held
}

// stop writes the cursor down and gives the lease back, so another
// instance goes on at once from where this one stopped.
func (p *Processor) stop(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if p.Lease != nil {
		if held, _ := p.Lease.Held(ctx); !held {
			return
		}
	}
	p.mu.Lock()
	err := p.save(ctx, true)
	p.mu.Unlock()
	if err != nil {
		p.log().Warn("feedback: write the cursor", "err", err)
	}
	if p.Lease != nil {
		if err := p.Lease.Drop(ctx); err != nil {
			p.log().Warn("feedback: give the lease back", "err", err)
		}
	}
}

// cursor is where processing resumes: in memory, else from the store,
// else (the node's first run) the custody log's end, written down.
func (p *Processor) cursor(ctx context.Context) (int64, error) {
	if p.known {
		return p.cur, nil
	}
	cur, ok, err := p.Store.FeedbackCursor(ctx)
	if err != nil {
		return 0, err
	}
	if !ok {
		if cur, err = p.Store.CustodySeq(ctx); err != nil {
			return 0, err
		}
		if err := p.Store.SetFeedbackCursor(ctx, cur); err != nil {
			return 0, err
		}
	}
	p.cur, p.known, p.saved, p.savedAt = cur, true, cur, p.now()
	return cur, nil
}

// save writes the cursor down if it moved, now or when cursorEvery has
// passed.
func (p *Processor) save(ctx context.Context, now bool) error {
	if !p.known || p.cur == p.saved || !now && p.now().Sub(p.savedAt) < cursorEvery {
		return nil
	}
	if err := p.Store.SetFeedbackCursor(ctx, p.cur); err != nil {
		return err
	}
	p.saved, p.savedAt = p.cur, p.now()
	return nil
}

// Process handles every report received since the cursor and returns how
// many complaints it tied to a registered sender.
func (p *Processor) Process(ctx context.Context) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	cur, err := p.cursor(ctx)
	if err != nil {
		return 0, err
	}
	// With no sender registered nothing can be tied: move past every
	// report committed so far without reading one (one statement reads
	// both, so each was committed before no sender was seen).
	head, any, err := p.Store.FeedbackState(ctx)
	if err != nil {
		return 0, err
	}
	if head <= cur {
		return 0, nil
	}
	if !any {
		p.cur = head
		return 0, p.save(ctx, false)
	}
	n := 0
	for {
		batch, err := p.Store.ReceivedAfter(ctx, cur, 200)
		if err != nil {
			return n, err
		}
		for _, r := range batch {
			cs, err := p.Report(ctx, r.ReportID)
			if err != nil {
				// The cursor stays before it: tried again.
				return n, errors.Join(fmt.Errorf("report %s: %w", r.ReportID, err), p.save(ctx, false))
			}
			n += len(cs)
			p.cur, cur = r.Seq, r.Seq
			if len(cs) > 0 {
				if err := p.save(ctx, true); err != nil {
					return n, err
				}
			}
		}
		if len(batch) < 200 {
			return n, p.save(ctx, false)
		}
	}
}

// Report feeds back one report: for each registered sender it is about,
// the complaint is recorded (once), and forwarded if it was not yet and
// the message is authenticated as the sender's.
func (p *Processor) Report(ctx context.Context, id string) ([]consent.Complaint, error) {
	rep, err := p.Store.ReportHead(ctx, id, headBytes)
	if errors.Is(err, intake.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	whole := false
	ties := p.identify(ctx, rep)
	reporter := p.reporter(ctx, rep)
	var out []consent.Complaint
	for _, t := range ties {
		t.in.ReportID = rep.ID
		t.in.Address = p.complainant(rep, reporter, t.in)
		c, err := p.Consent.RecordComplaint(ctx, t.in)
		if err != nil {
			return out, fmt.Errorf("record complaint about %s: %w", t.in.Sender, err)
		}
		out = append(out, c)
		if err := p.revokeLabel(ctx, rep, c); err != nil {
			return out, err
		}
		p.log().Info("complaint fed back", "report", rep.ID, "sender", c.Sender, "how", c.How, "counted", c.Counted(),
			"consent_on_record", c.ConsentOnRecord, "after_opt_out", c.AfterOptOut, "flags", strings.Join(c.Flags, ","))
		// A tie the message does not authenticate is never mailed: a
		// third party's spam, or its reporters, are none of the sender's
		// business. A message forwarded once is not forwarded again.
		if c.Forwarded != "" || p.Mailer == nil || !c.Counted() || c.Flagged(consent.FlagRepeat) {
			continue
		}
		sd, err := p.Consent.Store().Sender(ctx, c.Sender)
		if err != nil {
			return out, err
		}
		if !whole {
			// The ARF carries the message: read it whole now.
			if rep, err = p.Reports.Report(ctx, id); err != nil {
				return out, err
			}
			whole = true
		}
		// Everyone the reporter and the message name is redacted.
		arf, err := BuildARF(ARFInput{Report: rep, Complaint: c, Sender: sd, Node: p.Node, Recipient: t.in.Address,
			Redact: []string{reporter, t.in.Address}})
		if err != nil {
			return out, err
		}
		mid, err := p.Mailer.Send(ctx, consent.Mail{Kind: "fbl-report", Ref: "report:" + rep.ID, To: sd.FeedbackAddress(), Raw: arf})
		if err != nil {
			return out, fmt.Errorf("queue the feedback report to %s: %w", sd.ID, err)
		}
		if err := p.Consent.Store().MarkForwarded(ctx, rep.ID, sd.ID, mid); err != nil {
			return out, err
		}
	}
	return out, nil
}

// revokeLabel revokes this node's label on a message a counted complaint
// is about: the label said the recipient wanted the mail, and the
// recipient says otherwise. A partner's label (not in this node's store)
// is left to its issuer; a complaint the message does not authenticate
// as the sender's revokes nothing.
func (p *Processor) revokeLabel(ctx context.Context, rep *intake.Report, c consent.Complaint) error {
	if p.Labels == nil || !c.Counted() || rep.Verdict == nil {
		return nil
	}
	l := rep.Verdict.Label
	if l == nil || l.Status != label.Valid || l.ID == "" || l.Sender != c.Sender {
		return nil
	}
	err := p.Labels.RevokeLabel(ctx, l.ID, p.now(), "its recipient complained (report "+rep.ID+")")
	switch {
	case errors.Is(err, label.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("revoke label %s: %w", l.ID, err)
	}
	p.log().Info("label revoked on a complaint", "label", l.ID, "report", rep.ID, "sender", c.Sender)
	return nil
}

// sentAt is when the reported message reached its recipient, as far as
// the node can tell: the time in the Received field the recipient's side
// wrote when it took the message from outside (the earliest trusted hop
// with a time; without a trusted one, the newest field). The complaint's
// evidence — sent after the opt-out's deadline, consent on record when
// mailed — rests on it, so it is not the message's Date, a value the
// sender writes: a sender that backdated its mail would clear itself.
// Date stands only when no Received field has a time.
func sentAt(v *analysis.Verdict) time.Time {
	var got, newest *time.Time
	for _, h := range v.Origin.Hops {
		if h.Time == nil || h.Kind == trace.KindHeaderTag {
			continue
		}
		if h.Index == 0 {
			newest = h.Time
		}
		if h.Trusted && (got == nil || h.Time.Before(*got)) {
			got = h.Time
		}
	}
	switch {
	case got != nil:
		return got.UTC()
	case newest != nil:
		return newest.UTC()
	case v.Message.DateParsed != nil:
		return *v.Message.DateParsed
	}
	return time.Time{}
}

type tie struct {
	in consent.ComplaintInput
}

// identify ties a report to registered senders. The message is the
// sender's when a passing DKIM signature by one of its domains, or a valid
// label of this node for it, says so; the node's opt-out token in it then
// names the list and campaign. A token in a message not so authenticated
// (a token is a bearer value, copied with the mail) and a signature that
// could not be checked tie the complaint for the authority's eyes only.
func (p *Processor) identify(ctx context.Context, rep *intake.Report) []tie {
	v := rep.Verdict
	if v == nil {
		return nil
	}
	sent := sentAt(v)
	hdr := headerOf(rep.Raw)
	type authn struct{ how, key string }
	authed := map[string]authn{}
	var order, unverified []string
	if l := v.Label; l != nil && l.Status == label.Valid && l.Sender != "" {
		if _, err := p.Consent.Store().Sender(ctx, l.Sender); err == nil {
			authed[l.Sender] = authn{how: consent.HowLabel, key: labelKey(ctx, v, l.Sender, l.ID, p.senderFor)}
			order = append(order, l.Sender)
		}
	}
	if v.Auth != nil {
		for _, s := range v.Auth.DKIM {
			sd, ok := p.senderFor(ctx, s.Domain)
			if !ok {
				continue
			}
			switch {
			case s.Result == mailauth.Pass && s.Source == mailauth.SourceComputed:
				if _, ok := authed[sd]; !ok {
					authed[sd] = authn{how: consent.HowDKIM, key: verifiedKey(ctx, v.Auth.DKIM, sd, p.senderFor)}
					if authed[sd].key == "" {
						authed[sd] = authn{how: consent.HowDKIM, key: "sha256:" + rep.SHA256}
					}
					order = append(order, sd)
				}
			case s.Source == mailauth.SourceNone:
				unverified = append(unverified, sd)
			}
			// A signature that fails is not the sender's word.
		}
	}
	var out []tie
	seen := map[string]bool{}
	if view, _, ok := p.Consent.TokenIn(ctx, hdr.Get("List-Unsubscribe")); ok {
		in := consent.ComplaintInput{Sender: view.Sender.ID, TokenRecipient: view.RecipientHash(), List: view.List, Campaign: view.Campaign,
			How: consent.HowTokenUnverified, SentAt: sent, MessageKey: "sha256:" + rep.SHA256}
		if a, ok := authed[view.Sender.ID]; ok {
			in.How, in.MessageKey = consent.HowToken, a.key
		}
		seen[view.Sender.ID] = true
		out = append(out, tie{in: in})
	}
	for _, sd := range order {
		if !seen[sd] {
			seen[sd] = true
			out = append(out, tie{in: consent.ComplaintInput{Sender: sd, How: authed[sd].how, MessageKey: authed[sd].key, SentAt: sent}})
		}
	}
	for _, sd := range unverified {
		if !seen[sd] {
			seen[sd] = true
			out = append(out, tie{in: consent.ComplaintInput{Sender: sd, How: consent.HowDKIMUnverified, MessageKey: "sha256:" + rep.SHA256, SentAt: sent}})
		}
	}
	return out
}

// verifiedKey names a message for counting by the DKIM signatures that
// verified: among the passing signatures (checked here) by the sender's
// domains, the least hash of a b= value. Only the signer can make a b=
// that verifies, so a reporter cannot change the key: not by reporting
// the message again, nor by prepending a DKIM-Signature of its own that
// names the sender's d= (it fails, and a failing signature names
// nothing). A message the sender signed n times counts at most n times,
// should reporters strip signatures one by one; the least hash keeps it
// once while all of them are there. "" when no passing signature has a
// b= on record (a verdict stored before signatures were named).
func verifiedKey(ctx context.Context, sigs []mailauth.DKIMSignature, sender string, senderFor func(context.Context, string) (string, bool)) string {
	best := ""
	for _, s := range sigs {
		if s.Result != mailauth.Pass || s.Source != mailauth.SourceComputed || s.BHash == "" {
			continue
		}
		if sd, ok := senderFor(ctx, s.Domain); !ok || sd != sender {
			continue
		}
		if best == "" || s.BHash < best {
			best = s.BHash
		}
	}
	if best == "" {
		return ""
	}
	return "dkim:" + best
}

// labelKey names a labelled message for counting: by its verified DKIM
// signature when there is one (the same key a complaint tied by DKIM
// gets), else by the label's id — a label binds one message to one
// recipient (its body, the fields lint judged and the recipient's
// opt-out), and only the node that issued it can make another.
func labelKey(ctx context.Context, v *analysis.Verdict, sender, id string, senderFor func(context.Context, string) (string, bool)) string {
	if v.Auth != nil {
		if k := verifiedKey(ctx, v.Auth.DKIM, sender, senderFor); k != "" {
			return k
		}
	}
	return "label:" + id
}

// senderFor finds the sender a DKIM domain (or a parent of it) belongs to.
func (p *Processor) senderFor(ctx context.Context, d string) (string, bool) {
	d = strings.ToLower(strings.TrimSuffix(d, "."))
	for d != "" && strings.Contains(d, ".") {
		if sd, err := p.Consent.Store().SenderByDomain(ctx, d); err == nil {
			return sd.ID, true
		}
		_, d, _ = strings.Cut(d, ".")
	}
	return "", false
}

// reporter is the address that sent the complaint when the node
// authenticated it (SPF or aligned DKIM at the mailbox, a signed-in
// mailbox owner); "" otherwise. An address a client merely claimed names
// nobody.
func (p *Processor) reporter(ctx context.Context, rep *intake.Report) string {
	if rep.ReporterID == "" || rep.ReporterAuth == "" {
		return ""
	}
	a, err := p.Reports.ReporterAddress(ctx, rep.ReporterID)
	if err != nil {
		return ""
	}
	return a
}

// complainant is who complained, from what the node can trust: the
// authenticated reporter; or, for a mailbox provider's feedback report
// (ARF) sent by an authenticated reporter, the Original-Rcpt-To it names
// — only when the message is authenticated as the sender's and carries
// the opt-out token the node issued for that same recipient, which only
// that recipient's mail holds. Anything else a complaint writes about
// its recipient (Original-Rcpt-To, To) is a claim, never a fact.
func (p *Processor) complainant(rep *intake.Report, reporter string, in consent.ComplaintInput) string {
	if reporter == "" {
		return ""
	}
	if in.How == consent.HowToken && in.TokenRecipient != "" {
		for k, v := range rep.Feedback {
			if !strings.EqualFold(k, "Original-Rcpt-To") {
				continue
			}
			if a, err := mail.ParseAddress(strings.TrimSpace(v)); err == nil {
				if h, err := p.Consent.Hash(in.Sender, a.Address); err == nil && h == in.TokenRecipient {
					return a.Address
				}
			}
		}
	}
	return reporter
}
