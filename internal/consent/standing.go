package consent

import (
	"context"
	"fmt"
	"time"
)

// MaxComplaintRate is the complaint rate a sender must stay under: the
// large mailbox providers' line for bulk senders (0.3%, from February
// 2024), which Accord takes for its own labels too.
const MaxComplaintRate = 0.003

// RateWindow is the period complaint rates are measured over.
const RateWindow = 30 * 24 * time.Hour

// MaxMessagesPerRecipient bounds the messages a sender's standing counts
// per recipient in RateWindow: two a day. Campaigns are the sender's to
// make, as many as it likes, so the sum of their counts is bounded by
// something the node saw — its recipients with an active, confirmed
// record — times this.
const MaxMessagesPerRecipient = 60

// MinRateVolume is the number of counted messages in RateWindow from
// which a sender is judged by its complaint rate. Below it a rate says
// nothing (one complaint of 2 messages is 50%), so mailbox providers do
// not judge small senders by it; Accord judges them by MinComplainants
// instead. The two meet at this volume: 0.3% of 1,000 is 3 complaints,
// so the complaints a sender may have never fall as it grows.
const MinRateVolume = 1000

// MinComplainants is the number of distinct complainants in RateWindow
// at which a sender below MinRateVolume loses good standing: one
// complaint is one person's word (or a mistake), three people who
// complained independently are a pattern. It counts people, not counted
// messages, so a sender that keeps its counted volume small while mailing
// many (one signed message to a thousand recipients counts once) still
// loses standing when those recipients complain.
const MinComplainants = 3

// Judged by: which rule a sender's standing is measured with.
const (
	JudgedByRate         = "rate"
	JudgedByComplainants = "complainants"
)

// Standing is how a sender stands: its complaints over the last 30 days
// against the messages of its campaigns of those days (at most
// MaxMessagesPerRecipient per confirmed recipient) — judged by the rate
// from MinRateVolume messages on, below it by the number of distinct
// complainants — and the opt-outs it let pass their deadline. With
// complaints and nothing sent, the rate is 100%: a sender must say what
// it sends (links or POST /api/v1/sender/campaigns) to be measured by it.
type Standing struct {
	Sender     string
	Good       bool     // Active, under the complaint line, no overdue opt-out.
	Why        []string // What stands against it, in words.
	Sent       int64    // Messages counted, at most Bound.
	Bound      int64    // Recipients with an active confirmed record × MaxMessagesPerRecipient.
	Complaints int64
	Rate       float64
	// Complainants counts the distinct people whose complaints counted
	// (a complaint naming nobody, once per message).
	Complainants int64
	// JudgedBy is JudgedByRate from MinRateVolume counted messages on,
	// else JudgedByComplainants.
	JudgedBy string
	// Recovers is, for a sender out of standing on MinComplainants, when
	// the complainants fall under it again if nobody else complains: the
	// latest complaint of the MinComplainants-th most recent complainant
	// plus RateWindow. Zero otherwise.
	Recovers  time.Time
	Overdue   int
	Campaigns []Campaign // All of them, for the tables.
}

// Standing computes the sender's standing now.
func (s *Service) Standing(ctx context.Context, sender string) (Standing, error) {
	sd, err := s.st.Sender(ctx, sender)
	if err != nil {
		return Standing{}, err
	}
	st := Standing{Sender: sd.ID}
	if st.Campaigns, err = s.st.SenderCampaigns(ctx, sd.ID); err != nil {
		return st, err
	}
	since := s.now().Add(-RateWindow)
	for _, c := range st.Campaigns {
		if c.Created.After(since) {
			st.Sent += c.Sent()
		}
	}
	confirmed, err := s.st.ConfirmedRecipients(ctx, sd.ID)
	if err != nil {
		return st, err
	}
	st.Bound = int64(confirmed) * MaxMessagesPerRecipient
	st.Sent = min(st.Sent, st.Bound)
	// Every counted complaint of the window, those tied to a campaign
	// (by its opt-out token) and those tied only by label or DKIM.
	if st.Complaints, err = s.st.CountComplaints(ctx, sd.ID, since); err != nil {
		return st, err
	}
	var latest []time.Time
	if st.Complainants, latest, err = s.st.Complainants(ctx, sd.ID, since, MinComplainants); err != nil {
		return st, err
	}
	switch {
	case st.Sent > 0:
		st.Rate = min(1, float64(st.Complaints)/float64(st.Sent))
	case st.Complaints > 0:
		st.Rate = 1
	}
	od, err := s.st.Overdue(ctx, sd.ID, s.now())
	if err != nil {
		return st, err
	}
	st.Overdue = len(od)
	if sd.Status != SenderActive {
		st.Why = append(st.Why, "the sender is suspended: "+sd.Reason)
	}
	st.JudgedBy = JudgedByComplainants
	if st.Sent >= MinRateVolume {
		st.JudgedBy = JudgedByRate
	}
	switch {
	case st.JudgedBy == JudgedByRate && st.Rate >= MaxComplaintRate:
		st.Why = append(st.Why, fmt.Sprintf("complaint rate %.3f%% over the last 30 days is not under %.1f%%", st.Rate*100, MaxComplaintRate*100))
	case st.JudgedBy == JudgedByComplainants && st.Complainants >= MinComplainants:
		back := ""
		if len(latest) >= MinComplainants { // Else a complaint left between the two reads.
			st.Recovers = latest[MinComplainants-1].Add(RateWindow)
			back = " (it returns on " + st.Recovers.UTC().Format("2006-01-02 15:04 MST") + " if nobody else complains)"
		}
		st.Why = append(st.Why, fmt.Sprintf("%d people complained over the last 30 days, of %d messages counted: under %d messages a sender is judged by complainants, and %d or more lose good standing%s",
			st.Complainants, st.Sent, MinRateVolume, MinComplainants, back))
	}
	if st.Overdue > 0 {
		st.Why = append(st.Why, fmt.Sprintf("%d opt-outs were not taken by their deadline", st.Overdue))
	}
	st.Good = len(st.Why) == 0
	return st, nil
}
