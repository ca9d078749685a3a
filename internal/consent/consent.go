// Package consent helps legitimate senders keep the rules and lets
// authorities check that they did: organisations registered at the node
// (senders), consent records with confirmed opt-in, withdrawal, one-click
// opt-out (RFC 8058, RFC 2369) with a suppression list the sender's software
// syncs, per-jurisdiction deadlines for honouring an opt-out, and complaints
// fed back to the sender.
//
// Every event is appended to a hash-chained log per sender, and a
// recipient's history can be exported as a proof document signed by the
// node's key that verifies offline (VerifyProof), so a sender can show an
// authority that consent existed — and an authority can see that it did
// not. Recipients are stored as keyed hashes: the node checks an address
// against its records without keeping the address.
//
// The package knows no HTTP and no SQL: web and smtpd are its doors, and
// store/sqlstore implements its Store.
package consent

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Sender is an organisation registered at this node to send mail under
// its rules.
type Sender struct {
	ID            string    // Its primary domain, lower case: "shop.example".
	Name          string    // Legal name, as the recipient should see it.
	Contact       string    // Who answers for the sender (a DPO address).
	FeedbackTo    string    // Where complaints are forwarded as ARF; "" means Contact.
	Domains       []string  // Domains it signs and sends from (DKIM d=, From); includes ID.
	PostalAddress string    // Physical address, for the identification rules.
	Jurisdictions []string  // Where its recipients live: deadlines and rulebooks.
	Status        string    // StatusActive or StatusSuspended.
	Reason        string    // Why it was suspended.
	Created       time.Time // When it was registered.
	Changed       time.Time // When its status last changed.
}

// Sender statuses.
const (
	SenderActive    = "active"
	SenderSuspended = "suspended"
)

// FeedbackAddress is where complaints about the sender's mail go.
func (s Sender) FeedbackAddress() string {
	if s.FeedbackTo != "" {
		return s.FeedbackTo
	}
	return s.Contact
}

// HasDomain reports whether d (lower case) is one of the sender's domains
// or a subdomain of one.
func (s Sender) HasDomain(d string) bool {
	for _, x := range s.Domains {
		if d == x || len(d) > len(x) && d[len(d)-len(x)-1] == '.' && d[len(d)-len(x):] == x {
			return true
		}
	}
	return false
}

// Bases of a consent record.
const (
	BasisConsent   = "consent"     // Prior consent (GDPR art. 4(11), ePrivacy art. 13(1)).
	BasisSoftOptIn = "soft-opt-in" // An existing customer, similar products (ePrivacy art. 13(2)).
)

// Record statuses.
const (
	RecordPending   = "pending"   // Waiting for the recipient to confirm.
	RecordActive    = "active"    // Consent (or the customer relationship) stands.
	RecordWithdrawn = "withdrawn" // The recipient withdrew or objected.
	RecordExpired   = "expired"   // Never confirmed in time.
)

// Record is one recipient's consent to one list of one sender.
type Record struct {
	ID          string
	Sender      string
	Recipient   string // Keyed hash of the address (RecipientHash).
	List        string
	Basis       string
	Status      string
	Confirmed   bool // Double opt-in: the recipient confirmed by POST from the mailed link.
	Capture     Capture
	Customer    *Customer // For BasisSoftOptIn.
	Created     time.Time
	ConfirmedAt time.Time
	WithdrawnAt time.Time
}

// Capture is how consent was obtained: who was told what, when and how.
type Capture struct {
	Method          string    `json:"method"`                     // form, checkbox, in-person, phone, import, api.
	FormURL         string    `json:"form_url,omitempty"`         // The page with the form.
	FormVersion     string    `json:"form_version,omitempty"`     // Which version of the form.
	Text            string    `json:"text,omitempty"`             // The exact consent text shown.
	TextSHA256      string    `json:"text_sha256,omitempty"`      // Its hash, kept with the text.
	CheckboxDefault string    `json:"checkbox_default,omitempty"` // "unchecked" (a pre-ticked box is no consent).
	IP              string    `json:"ip,omitempty"`
	UserAgent       string    `json:"user_agent,omitempty"`
	Language        string    `json:"language,omitempty"`
	ObtainedAt      time.Time `json:"obtained_at"`
}

// Customer is the relationship behind a soft opt-in.
type Customer struct {
	Reference       string    `json:"reference"`        // Order or contract reference.
	ProductCategory string    `json:"product_category"` // What was bought; offers must be similar.
	Since           time.Time `json:"since"`            // Date of the sale or negotiation.
	OptOutOffered   bool      `json:"opt_out_offered"`  // Refusal was offered when the address was collected.
}

// Event kinds in a sender's log.
const (
	EventSenderRegistered = "sender-registered"
	EventSenderChanged    = "sender-changed"
	EventRecorded         = "consent-recorded"
	EventConfirmationSent = "confirmation-sent"
	EventConfirmationSeen = "confirmation-page-opened" // A GET: a person or a link scanner; never confirms.
	EventConfirmed        = "consent-confirmed"
	EventExpired          = "consent-expired"
	EventWithdrawn        = "consent-withdrawn"
	EventUnsubscribed     = "unsubscribed"
	EventComplaint        = "complaint"
	EventStaleToken       = "stale-unsubscribe-token"
)

// Event is one entry of a sender's append-only log. Hash chains it to the
// entry before: see ChainHash.
type Event struct {
	Seq       int64             `json:"seq"`
	Sender    string            `json:"sender"`
	At        time.Time         `json:"at"`
	Kind      string            `json:"kind"`
	Recipient string            `json:"recipient,omitempty"` // Keyed hash.
	List      string            `json:"list,omitempty"`
	Record    string            `json:"record,omitempty"`
	Detail    map[string]string `json:"detail,omitempty"`
	PrevHash  string            `json:"prev_hash"`
	Hash      string            `json:"hash"`
}

// Suppression reasons.
const (
	ViaOneClick   = "one-click" // RFC 8058 POST (a mail client's button, or the page's).
	ViaMailto     = "mailto"    // A mail to the unsubscribe address.
	ViaWithdrawal = "withdrawal"
	ViaComplaint  = "complaint"
	ViaAPI        = "api" // The sender reported an opt-out it received itself.
)

// Suppression is one recipient the sender must no longer mail: on one
// list, or on all of them (List "").
type Suppression struct {
	Seq          int64     // Order in the sender's suppression list: the sync cursor.
	Sender       string    //
	Recipient    string    // Keyed hash.
	List         string    // "" for every list.
	Reason       string    // One of the Via* values.
	RequestedAt  time.Time // When the recipient asked.
	Deadline     time.Time // The earliest legal deadline among the sender's jurisdictions.
	Jurisdiction string    // Whose deadline that is.
	SyncedAt     time.Time // When the sender's software first fetched it; zero: not yet.
	// Lifted is set when a confirmed opt-in brought the recipient back:
	// the sync feed then says "lift".
	Lifted   bool
	LiftedAt time.Time
}

// Overdue reports whether the sender has not fetched s before its deadline.
func (s Suppression) Overdue(now time.Time) bool {
	if s.Lifted {
		return false // the recipient came back: no opt-out to honour
	}
	if s.SyncedAt.IsZero() {
		return now.After(s.Deadline)
	}
	return s.SyncedAt.After(s.Deadline)
}

// Campaign is one mailing of a sender, counted for complaint rates.
type Campaign struct {
	ID         int64
	Sender     string
	List       string
	Name       string
	Issued     int64 // Recipients for whom unsubscribe links were issued.
	Reported   int64 // Messages the sender says it sent.
	Complaints int64
	Created    time.Time
}

// Sent is the best count of messages of the campaign.
func (c Campaign) Sent() int64 { return max(c.Issued, c.Reported) }

// Rate is complaints per message sent, or 0 with nothing sent.
func (c Campaign) Rate() float64 {
	if c.Sent() == 0 {
		return 0
	}
	return float64(c.Complaints) / float64(c.Sent())
}

// EventQuery selects events to count.
type EventQuery struct {
	Kind      string
	Since     time.Time
	Recipient string // "" any.
	Record    string // "" any.
}

// Complaint is a complaint at the desk about a registered sender's mail.
type Complaint struct {
	ReportID        string
	Sender          string
	At              time.Time
	Recipient       string // Keyed hash of the complainant; "" when no authenticated address named them.
	List            string
	Campaign        string
	How             string // How the sender was identified: HowToken, HowLabel, HowDKIM, or an unverified tie.
	ConsentOnRecord bool   // The recipient had an active consent record when mailed.
	ConsentRecord   string // Its id.
	AfterOptOut     bool   // The message was sent after the recipient's opt-out deadline.
	Forwarded       string // Outbound message id of the ARF sent to the sender; "" if not sent.
	// MessageKey names the reported message (its sender's DKIM signature):
	// however many people report one message, it counts once.
	MessageKey string
	// TokenRecipient is the keyed hash of the recipient the message's
	// opt-out token was issued for, when that is not the complainant.
	TokenRecipient string
	Flags          []string // For the authority: FlagTokenOfAnotherRecipient.
}

// Change is what one operation writes, all at once: record inserts and
// state changes, suppressions, campaign counts and the events that tell of
// them. The store assigns the events' Seq, PrevHash and Hash under the
// sender's lock.
type Change struct {
	Sender     string
	NewRecords []Record
	// Transitions move records from one status to another; a record not in
	// its From status fails the whole change with ErrConflict, so two
	// concurrent operations cannot both act.
	Transitions []Transition
	// Suppress inserts suppressions; one in force already (same
	// recipient and list) is skipped, a lifted one is put back in force.
	// With RequireNew, a change whose suppressions were all in force fails
	// with ErrDuplicate and writes nothing.
	Suppress   []Suppression
	RequireNew bool
	// Lift marks suppressions lifted (by recipient and list).
	Lift      []Suppression
	Complaint *Complaint
	Events    []Event
}

// Transition is a record's status change.
type Transition struct {
	Record string
	From   string
	To     Record // Status, Confirmed, ConfirmedAt, WithdrawnAt are written.
}

// Store keeps senders, records, events and suppressions. store/sqlstore
// implements it for SQLite and PostgreSQL.
type Store interface {
	AddSender(ctx context.Context, s Sender, ev Event) error
	UpdateSender(ctx context.Context, s Sender, ev Event) error
	Sender(ctx context.Context, id string) (Sender, error)
	Senders(ctx context.Context) ([]Sender, error)
	// SenderByDomain returns the sender a domain (exactly) belongs to.
	SenderByDomain(ctx context.Context, domain string) (Sender, error)

	// RecipientRef returns the number that stands for (sender, hash) in
	// tokens, creating it at first use with its folded mailbox (as
	// NoteMailbox files it); Recipient reverses it.
	RecipientRef(ctx context.Context, sender, hash, mailbox string) (int64, error)
	Recipient(ctx context.Context, ref int64) (sender, hash string, err error)
	// ListRef and CampaignRef do the same for lists and campaigns;
	// CampaignRef adds issued to the campaign's count of recipients.
	ListRef(ctx context.Context, sender, name string) (int64, error)
	ListName(ctx context.Context, ref int64) (sender, name string, err error)
	CampaignRef(ctx context.Context, sender, list, name string, issued int64) (int64, error)
	// CountIssued counts recipients (refs) in a campaign (its ref): those
	// not counted in it before are added to its Issued, at most once
	// each; it returns how many were added.
	CountIssued(ctx context.Context, campaign int64, recipients []int64) (int64, error)
	CampaignByRef(ctx context.Context, ref int64) (Campaign, error)
	ReportSent(ctx context.Context, sender, list, name string, sent int64) error
	SenderCampaigns(ctx context.Context, sender string) ([]Campaign, error)

	Apply(ctx context.Context, c Change) ([]Event, error)
	Record(ctx context.Context, id string) (Record, error)
	Records(ctx context.Context, sender, recipient string) ([]Record, error)
	// PendingBefore returns pending records, of every sender, created
	// before a time: the oldest first, at most limit.
	PendingBefore(ctx context.Context, before time.Time, limit int) ([]Record, error)
	// ActiveRecords counts a sender's active records.
	ActiveRecords(ctx context.Context, sender string) (int, error)
	// ConfirmedRecipients counts the recipients with an active, confirmed
	// record of the sender's (on any list).
	ConfirmedRecipients(ctx context.Context, sender string) (int, error)
	// Events returns a sender's log from seq after (0: from the start),
	// at most limit entries; with recipient set, only that recipient's.
	Events(ctx context.Context, sender, recipient string, after int64, limit int) ([]Event, error)
	// CountEvents counts a sender's events of one kind at or after since,
	// through an index on time, whatever the log's length; recipient and
	// record narrow it when set.
	CountEvents(ctx context.Context, sender string, q EventQuery) (int, error)
	Head(ctx context.Context, sender string) (seq int64, hash string, err error)

	// Suppressed returns the suppressions of a recipient.
	Suppressed(ctx context.Context, sender, recipient string) ([]Suppression, error)
	// NoteMailbox files the keyed hash of a recipient's folded mailbox
	// with the recipient's (first filing stands); MailboxSuppressions
	// returns the suppressions of every recipient filed under a mailbox.
	NoteMailbox(ctx context.Context, sender, recipient, mailbox string) error
	MailboxSuppressions(ctx context.Context, sender, mailbox string) ([]Suppression, error)

	// The batched reads of Links, one statement per batch where the loop
	// made one per recipient (each as its single form answers it):
	// SuppressedMany maps recipient keys to their suppressions (in seq
	// order), MailboxRecipients maps folded mailboxes to the recipient
	// keys filed under them, RecordsMany maps recipient keys to their
	// records, and RecipientRefs returns each key's ref as RecipientRef
	// does (filing new ones with their mailbox, writing only for those).
	SuppressedMany(ctx context.Context, sender string, recipients []string) (map[string][]Suppression, error)
	MailboxRecipients(ctx context.Context, sender string, mailboxes []string) (map[string][]string, error)
	RecordsMany(ctx context.Context, sender string, recipients []string) (map[string][]Record, error)
	RecipientRefs(ctx context.Context, sender string, hashes, mailboxes []string) ([]int64, error)
	// SuppressionFeed returns a sender's suppressions changed after the
	// cursor (Seq) and at or after Since (the time of the request, or of
	// the lifting), in order, lifted ones included, and marks those it
	// returns that were not yet fetched as synced at now.
	SuppressionFeed(ctx context.Context, sender string, q FeedQuery, now time.Time) ([]Suppression, error)
	// Overdue returns the suppressions, of every sender ("") or one, that
	// were not fetched by their deadline.
	Overdue(ctx context.Context, sender string, now time.Time) ([]Suppression, error)

	SenderComplaints(ctx context.Context, sender string, limit int) ([]Complaint, error)
	ComplaintsByReport(ctx context.Context, reportID string) ([]Complaint, error)
	MarkForwarded(ctx context.Context, reportID, sender, mailID string) error
	// CountComplaints counts a sender's complaints since a time, those
	// that count in its rate only (Complaint.Counted).
	CountComplaints(ctx context.Context, sender string, since time.Time) (int64, error)
	// Complainants counts the distinct complainants of a sender's counted
	// complaints since a time — a named complainant by their folded
	// mailbox where it is filed (else their key), a complaint that names
	// nobody once per message — and returns the latest complaint of each
	// of the top most recent ones, newest first.
	Complainants(ctx context.Context, sender string, since time.Time, top int) (int64, []time.Time, error)
	// MessageComplaints counts the complaints that counted about one
	// message (by its key).
	MessageComplaints(ctx context.Context, sender, messageKey string) (int, error)
}

// Errors the domain returns; the edges map them to HTTP statuses and exit
// codes.
var (
	ErrNotFound  = errors.New("consent: not found")
	ErrConflict  = errors.New("consent: the record changed meanwhile")
	ErrDuplicate = errors.New("consent: already done")
	ErrSuspended = errors.New("consent: the sender is suspended")
)

// RateError is a request refused for now: a limit on what the node sends
// was reached; it may be made again later. Retry is the window of the
// limit reached (an hour, or the 24 hours of a mailbox's bound): the
// caller is told that, not a guess shorter than the bound.
type RateError struct {
	What  string
	Retry time.Duration
}

func (e *RateError) Error() string { return "consent: " + e.What + "; try again later" }

// InvalidError is input the domain refuses, with the reason for the caller.
type InvalidError struct {
	Field  string
	Reason string
}

func (e *InvalidError) Error() string {
	if e.Field == "" {
		return "consent: " + e.Reason
	}
	return fmt.Sprintf("consent: %s: %s", e.Field, e.Reason)
}

func invalid(field, format string, a ...any) error {
	return &InvalidError{Field: field, Reason: fmt.Sprintf(format, a...)}
}
