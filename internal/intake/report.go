// Package intake is the complaint desk: it turns what people report — by
// mail, through the API or the web form — into Reports with evidence an
// authority can rely on, groups them into campaigns, and acknowledges a
// report only once it is durably stored.
//
// Nothing reported is lost: a complaint is stored byte for byte with the
// messages recovered from it, each with its SHA-256 and an append-only,
// hash-chained custody log. Reporters are pseudonymous outside their own
// desk: their address lives in a separate table, reports carry a keyed
// pseudonym, and views and exports never show the address.
package intake

import (
	"context"
	"errors"
	"time"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/campaign"
	"github.com/accord-antispam/accord/internal/rules"
)

// Channel is how a complaint arrived.
type Channel string

const (
	ChannelSMTP Channel = "smtp" // The complaints mailbox.
	ChannelAPI  Channel = "api"  // POST /api/v1/reports.
	ChannelWeb  Channel = "web"  // The web form.
)

// Complaint is what a reporter sent, exactly.
type Complaint struct {
	ID         string
	ReceivedAt time.Time
	Channel    Channel
	Raw        []byte
	SHA256     string
	ReporterID string    // Pseudonym, "" for anonymous.
	PurgedAt   time.Time // When its bytes and reporter were deleted; zero while kept.
}

// Report is one reported message with what Accord concluded about it.
type Report struct {
	ID           string
	ComplaintID  string
	ReceivedAt   time.Time
	Channel      Channel
	Form         string // How the message was found in the complaint (FormRaw, FormARF…).
	Unverifiable []string
	Feedback     map[string]string
	// Forwarders are the From fields of the forwards the desk unwrapped
	// inside the complaint to reach the message (Item.Forwarders):
	// personal data, dropped with the message.
	Forwarders []string
	Raw        []byte // The reported message.
	SHA256     string
	ReporterID string // Pseudonym of the reporter, "" when anonymous.
	// ReporterAuth says how the reporter's address was authenticated when
	// the complaint arrived: "spf" or "dkim" (aligned with the envelope
	// sender's domain), "account" (a signed-in mailbox owner), "" when it
	// was not. Only an authenticated address names the complainant to a
	// sender (suppression, consent on record).
	ReporterAuth string
	SubmittedBy  string // Principal that submitted it: a token id, "web" or "smtp".
	Consent      rules.Tri
	Customer     rules.Tri
	StatusHash   string // SHA-256 of the private status token.
	Verdict      *analysis.Verdict
	Signature    campaign.Signature
	CampaignID   string
	CampaignNew  bool      // This report founded its campaign.
	CampaignWhy  string    // Why it joined its campaign.
	PurgedAt     time.Time // When its message and analysis were deleted (retention or erasure); zero while kept.
	ErasedAt     time.Time // When its reporter erased it through the status link; zero if not.
}

// Summary fields a store indexes for lists and campaign views.
func (r *Report) Subject() string {
	if r.Verdict == nil {
		return ""
	}
	return r.Verdict.Message.Subject
}

// CustodyEntry is one event in the append-only custody log. Hash chains the
// entries: SHA-256 over the previous entry's hash and this entry's fields.
type CustodyEntry struct {
	Seq      int64
	ReportID string
	At       time.Time
	Actor    string // "reporter", "smtp", a user or token label, "system".
	Action   string // "received", "viewed", "exported", "status-viewed".
	Detail   string
	PrevHash string
	Hash     string
}

// Reporter is a reporter's identity, kept apart from their reports.
type Reporter struct {
	ID      string // Pseudonym: keyed hash of the address.
	Address string
}

// Batch is one complaint with the reports recovered from it.
type Batch struct {
	Complaint *Complaint
	Reporter  *Reporter // nil for anonymous complaints.
	Reports   []*Report
	Custody   []CustodyEntry // Entries to append (their Seq, PrevHash and Hash are set by the store).
	// Idempotency is stored with the complaint when the submission came
	// with an idempotency key; its Lookup is unique, so a second commit
	// of the same key fails whole.
	Idempotency *Idempotency
}

// Assigner places a report in a campaign inside the store's transaction:
// it sets CampaignID (and CampaignNew when it founds one).
type Assigner func(ctx context.Context, idx campaign.Index, r *Report) error

// Store keeps complaints, reports, campaigns and custody. Implementations
// (store/sqlite, store/postgres) pass store/storetest.
type Store interface {
	// Commit stores the batches in one durable transaction, assigning
	// each report's campaign with assign, in order. When it returns nil
	// every report is on disk; on error nothing of the batches is.
	Commit(ctx context.Context, batches []*Batch, assign Assigner) error
	Report(ctx context.Context, id string) (*Report, error)
	Complaint(ctx context.Context, id string) (*Complaint, error)
	Reports(ctx context.Context, f ReportFilter) ([]ReportSummary, error)
	Campaigns(ctx context.Context, f CampaignFilter) ([]CampaignSummary, error)
	Campaign(ctx context.Context, id string) (*CampaignDetail, error)
	AppendCustody(ctx context.Context, e CustodyEntry) (CustodyEntry, error)
	Custody(ctx context.Context, reportID string) ([]CustodyEntry, error)
	ReporterAddress(ctx context.Context, pseudonym string) (string, error)
	CountReports(ctx context.Context) (int, error)
	Stats(ctx context.Context) (Stats, error)
	// Idempotent returns the idempotency record of lookup with its
	// reports' current campaigns, or ErrNotFound.
	Idempotent(ctx context.Context, lookup string) (*Idempotency, error)
}

// Stats are the desk's totals.
type Stats struct {
	Reports         int
	Complaints      int
	Campaigns       int
	CampaignsMulti  int // Campaigns with more than one report.
	LargestCampaign int // Reports in the largest campaign.
	ByChannel       map[Channel]int
}

// ErrNotFound is returned for unknown ids.
var ErrNotFound = errors.New("intake: not found")

// MaxLimit is the most rows one list call returns; asking for more is
// ErrLimit, never a silently shorter list.
const MaxLimit = 1000

// ErrLimit is returned for a list limit over MaxLimit.
var ErrLimit = errors.New("intake: a list limit is at most 1000")

// ReportFilter selects reports. Zero fields select everything; set ones
// are combined with AND. Lists are newest first.
type ReportFilter struct {
	CampaignID  string
	SubmittedBy string
	Limit       int
	Before      time.Time
	Browse             // The desk's and the API's filters (browse.go).
	After       Cursor // Continue after this report (from the previous page's last row).
}

// ReportSummary is a report as lists show it: no addresses, no bytes.
type ReportSummary struct {
	ID         string
	ReceivedAt time.Time
	Channel    Channel
	Form       string
	Subject    string
	FromDomain string
	OriginIP   string
	Country    string
	ASN        int
	SpamScore  float64 // -1 when not scored.
	CampaignID string
}

// CampaignFilter selects campaigns: those with at least one report that
// matches Browse (and whose case has Browse.Status), biggest first.
type CampaignFilter struct {
	Limit    int
	MinCount int
	Browse          // A campaign matches when one of its reports does; Subject searches the campaign's subject.
	After    Cursor // Continue after this campaign (from the previous page's last row).
}

// CampaignSummary is one campaign in a list.
type CampaignSummary struct {
	ID        string
	Reports   int
	FirstSeen time.Time
	LastSeen  time.Time
	Subject   string // Its founding report's subject.
	Status    string // Its case's status ("new" when nobody opened one).
	Assignee  string // Who works its case, "" for nobody.
	// Closed is when its case was last closed (zero while open): a closed
	// case whose campaign was seen after it has new reports nobody works.
	Closed time.Time
}

// NewSinceClosed says whether reports arrived after the campaign's case
// was closed.
func (c CampaignSummary) NewSinceClosed() bool {
	return c.Status == "closed" && !c.Closed.IsZero() && c.LastSeen.After(c.Closed)
}

// Count is a value and how many reports carry it.
type Count struct {
	Value string
	N     int
}

// CampaignDetail is what a campaign page shows.
type CampaignDetail struct {
	CampaignSummary
	PerDay      []Count // "2006-01-02" -> reports received that day.
	Countries   []Count
	Networks    []Count // "AS123 Name".
	Senders     []Count // From domains.
	Domains     []Count // Link domains.
	Findings    []Count // Reason codes of the verdicts.
	Samples     []ReportSummary
	FoundedBy   string
	Fingerprint string
	// Merged are the campaigns merged into this one (their reports are
	// its reports now), oldest merge first.
	Merged []CampaignMerge
}

// CampaignMerge is one campaign merged into another: a report shared
// grouping keys with both (campaign.Partition), or the regrouping of
// schema 32 found them one.
type CampaignMerge struct {
	Campaign string    `json:"campaign"` // The id merged away; it still answers, pointing here.
	At       time.Time `json:"at"`
	Report   string    `json:"report"` // The report that joined both.
	Reason   string    `json:"reason"`
}

// MergedError is the answer for a campaign merged into another: its id
// still answers, with where its reports are now. It is an ErrNotFound for
// callers that only ask whether the campaign is there.
type MergedError struct {
	ID, Into string
}

func (e *MergedError) Error() string {
	return "intake: campaign " + e.ID + " was merged into " + e.Into
}
func (e *MergedError) Is(target error) bool { return target == ErrNotFound }
