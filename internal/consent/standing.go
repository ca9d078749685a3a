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

// Standing is how a sender stands: its complaints over the last 30 days
// against the messages of its campaigns of those days (at most
// MaxMessagesPerRecipient per confirmed recipient), and the opt-outs it
// let pass their deadline. With complaints and nothing sent, the rate is
// 100%: a sender must say what it sends (links or POST
// /api/v1/sender/campaigns) to be measured.
type Standing struct {
	Sender     string
	Good       bool     // Active, under the complaint line, no overdue opt-out.
	Why        []string // What stands against it, in words.
	Sent       int64    // Messages counted, at most Bound.
	Bound      int64    // Recipients with an active confirmed record × MaxMessagesPerRecipient.
	Complaints int64
	Rate       float64
	Overdue    int
	Campaigns  []Campaign // All of them, for the tables.
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
	if st.Rate >= MaxComplaintRate {
		st.Why = append(st.Why, fmt.Sprintf("complaint rate %.3f%% over the last 30 days is not under %.1f%%", st.Rate*100, MaxComplaintRate*100))
	}
	if st.Overdue > 0 {
		st.Why = append(st.Why, fmt.Sprintf("%d opt-outs were not taken by their deadline", st.Overdue))
	}
	st.Good = len(st.Why) == 0
	return st, nil
}
