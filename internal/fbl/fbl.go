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
// desk wakes it after each commit.
package fbl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"

	"github.com/accord-antispam/accord/internal/consent"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/label"
	"github.com/accord-antispam/accord/internal/mailauth"
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
}

// New returns a processor to fill in before Run; Notify may be called
// from the start.
func New() *Processor { return &Processor{wake: make(chan struct{}, 1)} }

// Processor feeds complaints back. Make it with New.
type Processor struct {
	Store   Store
	Reports intake.Store
	Consent *consent.Service
	Mailer  consent.Mailer // nil: complaints are recorded and suppress, but nothing is mailed.
	Node    string         // The node's name, in the reports.
	Log     *slog.Logger
	Now     func() time.Time

	wake chan struct{}
}

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

// Run processes what is new whenever woken, and every 30 seconds, until
// ctx ends. The first run of a node starts at the custody log's end: old
// reports are not fed back.
func (p *Processor) Run(ctx context.Context) {
	ch := p.wake
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		if _, err := p.Process(ctx); err != nil && ctx.Err() == nil {
			p.log().Error("feedback: process complaints", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-ch:
		case <-t.C:
		}
	}
}

// Process handles every report received since the cursor and returns how
// many complaints it tied to a registered sender.
func (p *Processor) Process(ctx context.Context) (int, error) {
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
	n := 0
	for {
		batch, err := p.Store.ReceivedAfter(ctx, cur, 200)
		if err != nil {
			return n, err
		}
		for _, r := range batch {
			cs, err := p.Report(ctx, r.ReportID)
			if err != nil {
				return n, fmt.Errorf("report %s: %w", r.ReportID, err) // the cursor stays: tried again
			}
			n += len(cs)
			cur = r.Seq
			if err := p.Store.SetFeedbackCursor(ctx, cur); err != nil {
				return n, err
			}
		}
		if len(batch) < 200 {
			return n, nil
		}
	}
}

// Report feeds back one report: for each registered sender it is about,
// the complaint is recorded (once), and forwarded if it was not yet.
func (p *Processor) Report(ctx context.Context, id string) ([]consent.Complaint, error) {
	rep, err := p.Reports.Report(ctx, id)
	if errors.Is(err, intake.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	ties := p.identify(ctx, rep)
	var out []consent.Complaint
	for _, t := range ties {
		t.in.ReportID = rep.ID
		// The address names the recipient when no token did, and is
		// redacted from the report either way.
		t.in.Address = p.recipientAddress(ctx, rep)
		c, err := p.Consent.RecordComplaint(ctx, t.in)
		if err != nil {
			return out, fmt.Errorf("record complaint about %s: %w", t.in.Sender, err)
		}
		out = append(out, c)
		p.log().Info("complaint fed back", "report", rep.ID, "sender", c.Sender, "how", c.How, "consent_on_record", c.ConsentOnRecord,
			"after_opt_out", c.AfterOptOut)
		if c.Forwarded != "" || p.Mailer == nil {
			continue
		}
		sd, err := p.Consent.Store().Sender(ctx, c.Sender)
		if err != nil {
			return out, err
		}
		arf, err := BuildARF(ARFInput{Report: rep, Complaint: c, Sender: sd, Node: p.Node, Recipient: t.in.Address, Token: t.token})
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

type tie struct {
	in    consent.ComplaintInput
	token string
}

// identify ties a report to registered senders: by the node's opt-out
// token (which also names the recipient, list and campaign), by a valid
// label of this node, or by a DKIM signature by a sender's domain.
func (p *Processor) identify(ctx context.Context, rep *intake.Report) []tie {
	v := rep.Verdict
	if v == nil {
		return nil
	}
	sent := time.Time{}
	if v.Message.DateParsed != nil {
		sent = *v.Message.DateParsed
	}
	var out []tie
	seen := map[string]bool{}
	hdr := headerOf(rep.Raw)
	if view, ok := p.Consent.TokenIn(ctx, hdr.Get("List-Unsubscribe")); ok {
		seen[view.Sender.ID] = true
		out = append(out, tie{in: consent.ComplaintInput{Sender: view.Sender.ID, Recipient: view.RecipientHash(), List: view.List,
			Campaign: view.Campaign, How: consent.HowToken, SentAt: sent}, token: tokenOf(hdr.Get("List-Unsubscribe"))})
	}
	if l := v.Label; l != nil && l.Status == label.Valid && l.Sender != "" && !seen[l.Sender] {
		if _, err := p.Consent.Store().Sender(ctx, l.Sender); err == nil {
			seen[l.Sender] = true
			out = append(out, tie{in: consent.ComplaintInput{Sender: l.Sender, How: consent.HowLabel, SentAt: sent}})
		}
	}
	if v.Auth != nil {
		for _, s := range v.Auth.DKIM {
			sd, ok := p.senderFor(ctx, s.Domain)
			if !ok || seen[sd] {
				continue
			}
			how := consent.HowDKIM
			switch {
			case s.Result == mailauth.Pass:
			case s.Source == mailauth.SourceNone:
				how = consent.HowDKIMUnverified
			default:
				continue // a signature that fails is not the sender's word
			}
			seen[sd] = true
			out = append(out, tie{in: consent.ComplaintInput{Sender: sd, How: how, SentAt: sent}})
		}
	}
	return out
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

// recipientAddress is who complained: the ARF's Original-Rcpt-To, the
// message's single To, or the reporter who forwarded it.
func (p *Processor) recipientAddress(ctx context.Context, rep *intake.Report) string {
	for k, v := range rep.Feedback {
		if strings.EqualFold(k, "Original-Rcpt-To") {
			if a, err := mail.ParseAddress(strings.TrimSpace(v)); err == nil {
				return a.Address
			}
		}
	}
	if v := rep.Verdict; v != nil {
		if to, err := mail.ParseAddressList(headerOf(rep.Raw).Get("To")); err == nil && len(to) == 1 {
			return to[0].Address
		}
	}
	if rep.ReporterID != "" {
		if a, err := p.Reports.ReporterAddress(ctx, rep.ReporterID); err == nil {
			return a
		}
	}
	return ""
}
