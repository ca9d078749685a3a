package consent

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"time"
)

// How a complaint was tied to a registered sender. Only a message
// authenticated as the sender's (a passing DKIM signature by one of its
// domains, or a valid label of this node) ties a complaint that counts,
// suppresses and is forwarded; the other ties are recorded for the
// authority and nothing more.
const (
	HowToken           = "unsubscribe-token" // The node's opt-out token for the sender, in a message the sender's DKIM signature or label authenticates.
	HowLabel           = "label"             // A valid label of this node for the sender.
	HowDKIM            = "dkim"              // A passing DKIM signature by one of the sender's domains.
	HowDKIMUnverified  = "dkim-unverified"   // A DKIM signature by one of its domains that could not be checked: recorded only.
	HowTokenUnverified = "token-unverified"  // The sender's opt-out token in a message not authenticated as its own (a token can be copied): recorded only.
)

// FlagTokenOfAnotherRecipient marks a complaint whose opt-out token was
// issued for someone other than the complainant: the sender put one
// recipient's token into another's mail (evidence of a seeded list, or of
// a token copied into others' mail).
const FlagTokenOfAnotherRecipient = "token-of-another-recipient"

// FlagRepeat marks a complaint about a message that was reported and
// counted already: it counts once, and is not forwarded again.
const FlagRepeat = "message-already-reported"

// Counted reports whether a complaint counts in the sender's complaint
// rate (and suppresses, and is forwarded): an unverified tie can be forged
// to hurt a sender.
func (c Complaint) Counted() bool { return c.How != HowDKIMUnverified && c.How != HowTokenUnverified }

// Flagged reports whether the complaint carries a flag.
func (c Complaint) Flagged(f string) bool {
	for _, x := range c.Flags {
		if x == f {
			return true
		}
	}
	return false
}

// ComplaintInput is a complaint at the desk about a sender's message.
type ComplaintInput struct {
	ReportID string
	Sender   string
	// Address is the complainant: the authenticated address that sent the
	// complaint (never a field the complaint itself wrote, such as an
	// ARF's Original-Rcpt-To). "" when nobody authenticated complained.
	Address string
	// TokenRecipient is the keyed hash of the recipient the message's
	// opt-out token was issued for. It says which consent record the
	// token belongs to, not who complained.
	TokenRecipient string
	List           string // From the token.
	Campaign       string
	How            string
	MessageKey     string    // Names the reported message: one message counts once.
	SentAt         time.Time // The message's Date; zero when unknown.
}

// RecordComplaint records a complaint about a sender's message. When the
// message is authenticated as the sender's and the complainant is known,
// the complainant is suppressed from all the sender's lists at once (a
// complaint is an objection, GDPR art. 21(3)) and their records are
// withdrawn; the complaint counts in the sender's complaint rate and its
// campaign's (once per message); it is marked "consent on record" when the
// complainant had an active record when the message was sent — evidence
// for the sender's defence, or of a false record. A token issued for
// someone else never stands in for the complainant: the complaint is
// flagged FlagTokenOfAnotherRecipient for the authority. Recording the
// same report twice returns the first record.
func (s *Service) RecordComplaint(ctx context.Context, in ComplaintInput) (Complaint, error) {
	sd, err := s.st.Sender(ctx, in.Sender)
	if err != nil {
		return Complaint{}, err
	}
	complainant := ""
	if in.Address != "" {
		if k, err := s.keysOf(sd.ID, in.Address); err == nil {
			complainant = k.hash
			if err := s.noteMailbox(ctx, sd.ID, k); err != nil {
				return Complaint{}, err
			}
		}
	}
	now := s.now()
	c := Complaint{ReportID: in.ReportID, Sender: sd.ID, At: now, Recipient: complainant, List: in.List, Campaign: in.Campaign, How: in.How,
		MessageKey: in.MessageKey}
	if in.TokenRecipient != "" && in.TokenRecipient != complainant {
		c.TokenRecipient = in.TokenRecipient
		if complainant != "" {
			c.Flags = append(c.Flags, FlagTokenOfAnotherRecipient)
		}
	}
	if in.MessageKey != "" && c.Counted() {
		n, err := s.st.MessageComplaints(ctx, sd.ID, in.MessageKey)
		if err != nil {
			return Complaint{}, err
		}
		if n > 0 {
			c.Flags = append(c.Flags, FlagRepeat)
		}
	}
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
		if x.List == "" && in.List != "" && Exception(sups, x, in.List) && !sent.Before(exceptionAt(sups, in.List)) {
			continue // sent after the recipient confirmed this list again
		}
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
	if c.TokenRecipient != "" {
		detail["token_recipient"] = c.TokenRecipient
	}
	if len(c.Flags) > 0 {
		detail["flags"] = strings.Join(c.Flags, ",")
	}
	if !in.SentAt.IsZero() {
		detail["message_date"] = in.SentAt.UTC().Format(time.RFC3339)
	}
	ch := Change{Sender: sd.ID, Complaint: &c, Events: []Event{{At: now, Kind: EventComplaint, Recipient: c.Recipient, List: in.List, Detail: detail}}}
	if c.Recipient != "" && c.Counted() {
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
// List-Unsubscribe value (or text), and what it stands for, and the token
// itself. The token's MAC is checked, but a token is a bearer value copied
// into every message: it says which consent record the node issued it for,
// not who sent the message nor who complained.
func (s *Service) TokenIn(ctx context.Context, text string) (UnsubscribeView, string, bool) {
	for _, re := range []*regexp.Regexp{urlTokenRe, mailtoTokenRe} {
		for _, m := range re.FindAllStringSubmatch(text, 8) {
			if v, err := s.OpenUnsubscribe(ctx, m[1]); err == nil {
				return v, m[1], true
			}
		}
	}
	return UnsubscribeView{}, "", false
}

// RecipientHash returns the view's recipient hash.
func (v UnsubscribeView) RecipientHash() string { return v.hash }

// exceptionAt is when list was confirmed again (its row lifted).
func exceptionAt(sups []Suppression, list string) time.Time {
	for _, y := range sups {
		if y.List == list && y.Lifted {
			return y.LiftedAt
		}
	}
	return time.Time{}
}
