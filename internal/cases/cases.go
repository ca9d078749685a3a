// Package cases is how an authority works a campaign: a case with a
// status (new, triage, investigating, referred, closed), an assignee,
// notes and decisions with their time and author, its evidence exported
// as one signed bundle, and its referral to a partner authority.
//
// A case is the campaign's: its id is the campaign's id, and a campaign
// nobody has touched is a case in status "new" with no history. Every
// change is an Event appended with the case's new state in one store
// transaction, so the history is the case: nothing changes without a line
// saying who, when and why.
package cases

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/accord-antispam/accord/internal/intake"
)

// Status is where a case stands.
type Status string

const (
	New           Status = "new"           // Nobody has looked at it yet.
	Triage        Status = "triage"        // Being assessed: is it worth pursuing?
	Investigating Status = "investigating" // Being worked: evidence, trace-back, the sender.
	Referred      Status = "referred"      // Handed to a partner authority (an assistance request).
	Closed        Status = "closed"        // Done, with the decision that closed it.
)

// Statuses lists every status in workflow order.
var Statuses = []Status{New, Triage, Investigating, Referred, Closed}

// ParseStatus reads a status name.
func ParseStatus(s string) (Status, error) {
	for _, x := range Statuses {
		if string(x) == s {
			return x, nil
		}
	}
	return "", fmt.Errorf("%w: status %q: want new, triage, investigating, referred or closed", ErrInvalid, s)
}

// next lists where each status may go by SetStatus. Referred is reached
// only by Refer, which sends the assistance request in the same step.
var next = map[Status][]Status{
	New:           {Triage, Investigating, Closed},
	Triage:        {Investigating, Closed},
	Investigating: {Triage, Closed},
	Referred:      {Investigating, Closed},
	Closed:        {Triage}, // Reopened, with the reason.
}

// Allowed lists the statuses SetStatus may move a case in s to.
func Allowed(s Status) []Status { return next[s] }

// Kind is what an event did.
type Kind string

const (
	KindStatus   Kind = "status"   // The status changed; Text is why.
	KindAssign   Kind = "assign"   // Ref is the new assignee ("" when unassigned).
	KindNote     Kind = "note"     // A working note.
	KindDecision Kind = "decision" // A formal decision (closing always records one).
	KindReferral Kind = "referral" // Referred to Ref's peer; Ref is the assistance request id.
	KindExport   Kind = "export"   // The case's evidence was exported; Ref is the bundle's SHA-256.
	KindMerge    Kind = "merge"    // Another campaign was merged into this one (Ref); its case's events precede this one, renumbered.
)

// Event is one line of a case's history.
type Event struct {
	N      int // 1, 2, … within the case.
	At     time.Time
	Actor  string // Who: "user:ana", a token label.
	Kind   Kind
	Status Status // The case's status after the event.
	Text   string
	Ref    string
}

// Case is a campaign being worked.
type Case struct {
	CampaignID string
	Status     Status
	Assignee   string    // A desk user, "" when nobody.
	Opened     time.Time // The first event; zero for an untouched campaign.
	Updated    time.Time
	Closed     time.Time // When last closed; zero while open.
	Version    int       // Events so far: a change names the version it saw.
	Events     []Event   // In time order, then by number (Store.Case fills them): after a merge the numbers are not the order.
	Links      []Link    // Merges reports proposed with this campaign (Service.Get fills them).
}

// Link is a merge a report proposed between two campaigns that intake did
// not make, because Campaign was sealed — a person had worked on it (its
// case has an event). Reports are untrusted and the grouping keys public,
// so only an analyst merges a worked campaign (Service.Merge).
type Link struct {
	Campaign string // The sealed campaign.
	Other    string // The campaign the report joined (as it is now).
	ReportID string
	At       time.Time
	Why      string
}

// Errors. The web and API edges map them to 404, 409 and 400.
var (
	ErrNotFound = errors.New("cases: no such campaign")
	ErrConflict = errors.New("cases: the case changed meanwhile; reload it")
	ErrInvalid  = errors.New("cases: invalid change")
)

// MergedError is the answer for a campaign merged into another: its case
// is Into's now (the merge moved its events there), so it is neither
// read nor changed under the merged id. A change refused so is a
// conflict (errors.Is(err, ErrConflict)): the case the person saw has
// moved; the edges name the survivor.
type MergedError struct {
	Campaign string // The id merged away.
	Into     string // The campaign it was merged into.
}

func (e *MergedError) Error() string {
	return "cases: campaign " + e.Campaign + " was merged into " + e.Into + ": its case is that campaign's"
}

// Is makes a MergedError an ErrConflict.
func (e *MergedError) Is(target error) bool { return target == ErrConflict }

// Store keeps cases. store/sqlstore implements it; store/storetest checks
// it on SQLite and PostgreSQL.
type Store interface {
	// Case returns the case of a campaign with its events in the order
	// they happened (time, then number), or ErrNotFound when no event
	// was ever recorded for it.
	Case(ctx context.Context, campaignID string) (*Case, error)
	// AppendCaseEvent stores ev and the case's new state c in one
	// transaction, provided the case is still at version seen (0 for a
	// case never touched): otherwise ErrConflict and nothing is stored.
	// A campaign merged into another takes no event (*MergedError),
	// checked in that transaction under a lock a merge also takes, so a
	// merge committing meanwhile cannot leave an orphan case behind.
	AppendCaseEvent(ctx context.Context, c *Case, seen int, ev Event) error
	// CaseDurations returns, for cases closed in [from, to), the time from
	// their first event to their closing.
	CaseDurations(ctx context.Context, from, to time.Time) ([]time.Duration, error)
	// ProposedLinks returns the links proposed between campaignID and
	// another campaign (either side), oldest first.
	ProposedLinks(ctx context.Context, campaignID string) ([]Link, error)
	// MergeCampaigns merges campaign from into campaign into as intake
	// merges (reports, keys, case; a custody entry, the merge recorded)
	// on a person's decision: actor made it, why says why. ErrNotFound
	// when either is no campaign, ErrInvalid when they are one, or one
	// was already merged.
	MergeCampaigns(ctx context.Context, from, into, actor, why string) error
}

// Referral is what a case's referral asks of a partner authority.
type Referral struct {
	Peer       string `json:"peer"`
	Type       string `json:"type"` // "information", "enforcement" or "alert" (the federation's request types).
	Subject    string `json:"subject"`
	Body       string `json:"body"`        // The person's words; the case file is attached after them.
	LegalBasis string `json:"legal_basis"` // "" for the agreement's.
}

// Referrer sends an assistance request to a partner authority and returns
// its id. The federation implements it (adapted where both are wired).
type Referrer interface {
	Refer(ctx context.Context, r Referral, campaignID, by string) (requestID string, err error)
}

// Service changes cases.
type Service struct {
	Store     Store
	Campaigns intake.Store     // The campaigns cases are about.
	Referrer  Referrer         // nil: referral is not available on this node.
	Now       func() time.Time // nil: time.Now.
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// MaxText bounds a note, a decision or a reason.
const MaxText = 20000

// Get returns a campaign's case with the links proposed for it: a "new"
// case with no history when nobody touched it, *MergedError for a
// campaign merged into another, ErrNotFound when there is no such
// campaign (nor a merged one whose survivor is still there).
func (s *Service) Get(ctx context.Context, campaignID string) (*Case, error) {
	c, err := s.get(ctx, campaignID)
	if err != nil {
		return nil, err
	}
	if c.Links, err = s.Store.ProposedLinks(ctx, campaignID); err != nil {
		return nil, fmt.Errorf("case %s: %w", campaignID, err)
	}
	return c, nil
}

// Merge merges campaign from into campaign into on actor's decision, for
// the reason why (required: it is the merge event's text in the case).
// It returns the merged case.
func (s *Service) Merge(ctx context.Context, from, into, why, actor string) (*Case, error) {
	why, err := cleanText("the reason", why, true)
	if err != nil {
		return nil, err
	}
	if from == into {
		return nil, fmt.Errorf("%w: a campaign cannot be merged into itself", ErrInvalid)
	}
	if err := s.Store.MergeCampaigns(ctx, from, into, actor, why); err != nil {
		return nil, err
	}
	return s.Get(ctx, into)
}

func (s *Service) get(ctx context.Context, campaignID string) (*Case, error) {
	c, err := s.Store.Case(ctx, campaignID)
	if err == nil {
		return c, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("case %s: %w", campaignID, err)
	}
	reps, err := s.Campaigns.Reports(ctx, intake.ReportFilter{CampaignID: campaignID, Limit: 1})
	var merged *intake.MergedError
	if errors.As(err, &merged) {
		return nil, &MergedError{Campaign: campaignID, Into: merged.Into}
	}
	if err != nil {
		return nil, fmt.Errorf("campaign %s: %w", campaignID, err)
	}
	if len(reps) == 0 {
		return nil, ErrNotFound
	}
	return &Case{CampaignID: campaignID, Status: New}, nil
}

func cleanText(what, s string, required bool) (string, error) {
	s = strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n"))
	switch {
	case required && s == "":
		return "", fmt.Errorf("%w: %s is required", ErrInvalid, what)
	case len(s) > MaxText:
		return "", fmt.Errorf("%w: %s is longer than %d bytes", ErrInvalid, what, MaxText)
	case !utf8.ValidString(s):
		return "", fmt.Errorf("%w: %s is not valid UTF-8", ErrInvalid, what)
	}
	return s, nil
}

// apply appends one event to the case as seen at version seen.
// The case returned has no Links (Get's).
func (s *Service) apply(ctx context.Context, campaignID string, seen int, actor string, change func(c *Case, ev *Event) error) (*Case, error) {
	c, err := s.get(ctx, campaignID)
	if err != nil {
		return nil, err
	}
	if seen >= 0 && seen != c.Version {
		return nil, ErrConflict
	}
	at := s.now()
	ev := Event{N: c.Version + 1, At: at, Actor: actor}
	prev := *c
	if err := change(c, &ev); err != nil {
		return nil, err
	}
	ev.Status = c.Status
	if c.Opened.IsZero() {
		c.Opened = at
	}
	c.Updated = at
	if c.Status == Closed && prev.Status != Closed {
		c.Closed = at
	}
	if c.Status != Closed {
		c.Closed = time.Time{}
	}
	c.Version = ev.N
	if err := s.Store.AppendCaseEvent(ctx, c, prev.Version, ev); err != nil {
		return nil, err
	}
	c.Events = append(c.Events, ev)
	return c, nil
}

// SetStatus moves a case to another status with the reason. Closing
// records the reason as the case's decision. seen is the version the
// person saw (-1: whatever it is now).
func (s *Service) SetStatus(ctx context.Context, campaignID string, seen int, to Status, reason, actor string) (*Case, error) {
	return s.apply(ctx, campaignID, seen, actor, func(c *Case, ev *Event) error {
		// Closing and reopening say why.
		reason, err := cleanText("the reason", reason, to == Closed || c.Status == Closed)
		if err != nil {
			return err
		}
		ok := false
		for _, x := range next[c.Status] {
			ok = ok || x == to
		}
		if !ok {
			if to == Referred {
				return fmt.Errorf("%w: a case is referred by sending the referral", ErrInvalid)
			}
			return fmt.Errorf("%w: a %s case cannot become %s", ErrInvalid, c.Status, to)
		}
		c.Status = to
		ev.Kind, ev.Text = KindStatus, reason
		if to == Closed {
			ev.Kind = KindDecision
		}
		return nil
	})
}

// Assign gives the case to a desk user ("" unassigns). The caller checks
// that the user exists.
func (s *Service) Assign(ctx context.Context, campaignID string, seen int, assignee, actor string) (*Case, error) {
	assignee = strings.TrimSpace(assignee)
	if len(assignee) > 200 {
		return nil, fmt.Errorf("%w: an assignee name is at most 200 bytes", ErrInvalid)
	}
	return s.apply(ctx, campaignID, seen, actor, func(c *Case, ev *Event) error {
		if c.Assignee == assignee {
			return fmt.Errorf("%w: the case is already assigned so", ErrInvalid)
		}
		c.Assignee = assignee
		ev.Kind, ev.Ref = KindAssign, assignee
		return nil
	})
}

// Note adds a working note.
func (s *Service) Note(ctx context.Context, campaignID string, seen int, text, actor string) (*Case, error) {
	text, err := cleanText("the note", text, true)
	if err != nil {
		return nil, err
	}
	return s.apply(ctx, campaignID, seen, actor, func(c *Case, ev *Event) error {
		ev.Kind, ev.Text = KindNote, text
		return nil
	})
}

// Decide records a formal decision without changing the status.
func (s *Service) Decide(ctx context.Context, campaignID string, seen int, text, actor string) (*Case, error) {
	text, err := cleanText("the decision", text, true)
	if err != nil {
		return nil, err
	}
	return s.apply(ctx, campaignID, seen, actor, func(c *Case, ev *Event) error {
		ev.Kind, ev.Text = KindDecision, text
		return nil
	})
}

// RecordExport notes that the case's evidence left the node as a bundle
// with this SHA-256.
func (s *Service) RecordExport(ctx context.Context, campaignID, sha256, actor string) (*Case, error) {
	return s.apply(ctx, campaignID, -1, actor, func(c *Case, ev *Event) error {
		ev.Kind, ev.Ref, ev.Text = KindExport, sha256, "evidence bundle exported"
		return nil
	})
}

// ErrNoReferrer is returned by Refer on a node without cooperation.
var ErrNoReferrer = errors.New("cases: this node has no partner authorities to refer to")

// Refer sends the case to a partner authority as an assistance request
// with the case file attached, and marks the case referred. The request
// is queued first: if recording the referral then fails, the error says
// which request was sent.
func (s *Service) Refer(ctx context.Context, campaignID string, seen int, r Referral, actor string) (*Case, string, error) {
	if s.Referrer == nil {
		return nil, "", ErrNoReferrer
	}
	var err error
	if r.Subject, err = cleanText("the subject", r.Subject, true); err != nil {
		return nil, "", err
	}
	if r.Body, err = cleanText("the request", r.Body, false); err != nil {
		return nil, "", err
	}
	if strings.TrimSpace(r.Peer) == "" {
		return nil, "", fmt.Errorf("%w: choose the partner authority", ErrInvalid)
	}
	c, err := s.Get(ctx, campaignID)
	if err != nil {
		return nil, "", err
	}
	if seen >= 0 && seen != c.Version {
		return nil, "", ErrConflict
	}
	if c.Status == Closed {
		return nil, "", fmt.Errorf("%w: reopen a closed case before referring it", ErrInvalid)
	}
	file, err := s.caseFile(ctx, c)
	if err != nil {
		return nil, "", err
	}
	r.Body = strings.TrimSpace(r.Body + "\n\n" + file)
	id, err := s.Referrer.Refer(ctx, r, campaignID, actor)
	if err != nil {
		return nil, "", fmt.Errorf("refer case %s to %s: %w", campaignID, r.Peer, err)
	}
	c, err = s.apply(ctx, campaignID, c.Version, actor, func(c *Case, ev *Event) error {
		c.Status = Referred
		ev.Kind, ev.Ref, ev.Text = KindReferral, id, "referred to "+r.Peer+" ("+r.Type+"): "+r.Subject
		return nil
	})
	if err != nil {
		return nil, id, fmt.Errorf("assistance request %s was sent, but the case could not record it: %w", id, err)
	}
	return c, id, nil
}

// caseFile is the case as a partner reads it in the assistance request:
// the campaign's figures and the decisions so far (notes stay home).
func (s *Service) caseFile(ctx context.Context, c *Case) (string, error) {
	d, err := s.Campaigns.Campaign(ctx, c.CampaignID)
	if err != nil {
		return "", fmt.Errorf("campaign %s: %w", c.CampaignID, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "--- Case file: campaign %s ---\n", d.ID)
	fmt.Fprintf(&b, "Status: %s\nReports: %d, first %s, last %s\n", c.Status, d.Reports,
		d.FirstSeen.UTC().Format(time.RFC3339), d.LastSeen.UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "Subject: %s\n", d.Subject)
	list := func(name string, cs []intake.Count) {
		if len(cs) == 0 {
			return
		}
		var parts []string
		for i, x := range cs {
			if i == 10 {
				break
			}
			parts = append(parts, fmt.Sprintf("%s (%d)", x.Value, x.N))
		}
		fmt.Fprintf(&b, "%s: %s\n", name, strings.Join(parts, ", "))
	}
	list("Origin countries", d.Countries)
	list("Origin networks", d.Networks)
	list("Sender domains", d.Senders)
	list("Link domains", d.Domains)
	list("Findings", d.Findings)
	first := true
	for _, e := range c.Events {
		if e.Kind != KindDecision {
			continue
		}
		if first {
			b.WriteString("Decisions:\n")
			first = false
		}
		fmt.Fprintf(&b, "- %s %s: %s\n", e.At.UTC().Format(time.RFC3339), e.Actor, e.Text)
	}
	return strings.TrimRight(b.String(), "\n"), nil
}
