package consent

import (
	"context"
	"errors"
	"regexp"
	"time"
)

// How a complaint was tied to a registered sender.
const (
	HowToken          = "unsubscribe-token" // The message carried one of the node's opt-out tokens for the sender.
	HowLabel          = "label"             // A valid label of this node for the sender.
	HowDKIM           = "dkim"              // A passing DKIM signature by one of the sender's domains.
	HowDKIMUnverified = "dkim-unverified"   // A DKIM signature by one of its domains that could not be checked: forwarded, not counted.
)

// Counted reports whether a complaint counts in the sender's complaint
// rate: an unverified signature can be forged to hurt a sender.
func (c Complaint) Counted() bool { return c.How != HowDKIMUnverified }

// ComplaintInput is a complaint at the desk about a sender's message.
type ComplaintInput struct {
	ReportID  string
	Sender    string
	Recipient string // Keyed hash, when known (from a token).
	Address   string // Or the recipient's address, when the complaint names it.
	List      string
	Campaign  string
	How       string
	SentAt    time.Time // The message's Date; zero when unknown.
}

// RecordComplaint records a complaint about a sender's message: the
// complaining recipient is suppressed from all the sender's lists at once
// (a complaint is an objection, GDPR art. 21(3)), the complaint counts in
// the sender's complaint rate and its campaign's, and it is marked
// "consent on record" when the recipient had an active record when the
// message was sent — evidence for the sender's defence, or of a false
// record. Recording the same report twice returns the first record.
func (s *Service) RecordComplaint(ctx context.Context, in ComplaintInput) (Complaint, error) {
	sd, err := s.st.Sender(ctx, in.Sender)
	if err != nil {
		return Complaint{}, err
	}
	if in.Recipient == "" && in.Address != "" {
		if h, err := s.Hash(sd.ID, in.Address); err == nil {
			in.Recipient = h
		}
	}
	now := s.now()
	c := Complaint{ReportID: in.ReportID, Sender: sd.ID, At: now, Recipient: in.Recipient, List: in.List, Campaign: in.Campaign, How: in.How}
	sent := in.SentAt
	if sent.IsZero() || sent.After(now) {
		sent = now
	}
	var recs []Record
	var sups []Suppression
	if c.Recipient != "" {
		if recs, err = s.st.Records(ctx, sd.ID, c.Recipient); err != nil {
			return Complaint{}, err
		}
		if sups, err = s.st.Suppressed(ctx, sd.ID, c.Recipient); err != nil {
			return Complaint{}, err
		}
	}
	for _, r := range recs {
		if in.List != "" && r.List != in.List {
			continue
		}
		since := r.Created
		if r.Confirmed {
			since = r.ConfirmedAt
		}
		stood := (r.Status == RecordActive || r.Status == RecordWithdrawn && r.WithdrawnAt.After(sent)) && !since.After(sent)
		if stood && !c.ConsentOnRecord {
			c.ConsentOnRecord, c.ConsentRecord = true, r.ID
		}
	}
	for _, x := range sups {
		if !x.Lifted && (in.List == "" || x.List == "" || x.List == in.List) && sent.After(x.Deadline) {
			c.AfterOptOut = true
		}
	}
	detail := map[string]string{"report": in.ReportID, "identified_by": in.How}
	if in.Campaign != "" {
		detail["campaign"] = in.Campaign
	}
	if c.ConsentOnRecord {
		detail["consent_on_record"] = c.ConsentRecord
	}
	if c.AfterOptOut {
		detail["sent_after_opt_out_deadline"] = "true"
	}
	if !in.SentAt.IsZero() {
		detail["message_date"] = in.SentAt.UTC().Format(time.RFC3339)
	}
	ch := Change{Sender: sd.ID, Complaint: &c, Events: []Event{{At: now, Kind: EventComplaint, Recipient: c.Recipient, List: in.List, Detail: detail}}}
	if c.Recipient != "" {
		sup := Suppression{Sender: sd.ID, Recipient: c.Recipient, List: "", Reason: ViaComplaint, RequestedAt: now}
		sup.Deadline, sup.Jurisdiction = s.deadline(sd, now)
		ch.Suppress = []Suppression{sup}
		for _, r := range recs {
			if r.Status == RecordActive || r.Status == RecordPending {
				to := r
				to.Status, to.WithdrawnAt = RecordWithdrawn, now
				ch.Transitions = append(ch.Transitions, Transition{Record: r.ID, From: r.Status, To: to})
				ch.Events = append(ch.Events, Event{At: now, Kind: EventWithdrawn, Recipient: c.Recipient, List: r.List, Record: r.ID,
					Detail: map[string]string{"via": ViaComplaint, "report": in.ReportID}})
			}
		}
	}
	_, err = s.st.Apply(ctx, ch)
	if errors.Is(err, ErrDuplicate) || errors.Is(err, ErrConflict) {
		got, err2 := s.st.ComplaintsByReport(ctx, in.ReportID)
		for _, x := range got {
			if x.Sender == sd.ID {
				return x, nil
			}
		}
		if err2 != nil {
			return Complaint{}, err2
		}
	}
	if err != nil {
		return Complaint{}, err
	}
	return c, nil
}

var (
	urlTokenRe    = regexp.MustCompile(`/u/([a-zA-Z2-7]{45})(?:[^a-zA-Z2-7]|$)`)
	mailtoTokenRe = regexp.MustCompile(`(?i)unsubscribe\+([a-z2-7]{45})@`)
)

// TokenIn finds this node's opt-out token for a sender in a message's
// List-Unsubscribe value (or text), and what it stands for. The token's MAC
// is checked: a token in a complaint is proof of whose mail it was.
func (s *Service) TokenIn(ctx context.Context, text string) (UnsubscribeView, bool) {
	for _, re := range []*regexp.Regexp{urlTokenRe, mailtoTokenRe} {
		for _, m := range re.FindAllStringSubmatch(text, 8) {
			if v, err := s.OpenUnsubscribe(ctx, m[1]); err == nil {
				return v, true
			}
		}
	}
	return UnsubscribeView{}, false
}

// RecipientHash returns the view's recipient hash.
func (v UnsubscribeView) RecipientHash() string { return v.hash }
