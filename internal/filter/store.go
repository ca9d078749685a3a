package filter

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/campaign"
	"github.com/accord-antispam/accord/internal/intel"
	"github.com/accord-antispam/accord/internal/trace"
)

// The most rows one read of the quarantine or of the filter's audit
// entries returns; asking for more is ErrLimit, never a silently shorter
// list.
const (
	MaxHeldLimit  = 100000
	MaxAuditLimit = 10000
)

// ErrLimit is returned for a read over its maximum.
var ErrLimit = errors.New("filter: a list limit over its maximum")

// ErrNotFound is returned for unknown policies and quarantined messages.
var ErrNotFound = errors.New("filter: not found")

// Held is one quarantined message for one recipient.
type Held struct {
	ID         string
	Recipient  string
	MailFrom   string
	From       string // The header From, for the recipient's list.
	Subject    string
	ReceivedAt time.Time
	ExpiresAt  time.Time
	Score      float64
	Symbols    []Symbol
	Reference  string // The decision's reference.
	Raw        []byte // The message as received; empty in listings.
	Size       int
	State      string // "held", "releasing", "queued", "released", "deleted"
	ActedAt    time.Time
	ActedBy    string
	// Session is what the door's SMTP session knew of the client, which
	// the held bytes do not show (the MTA's own Received field is not in
	// them): a report to the authority from the quarantine gives it to
	// the desk as the message's origin.
	Session Session
}

// Session is the SMTP client of a held message, as the node's MTA saw it
// and told the door: facts of the trusted top hop, not of the message.
type Session struct {
	IP   string // "" when the door was not told (spamd, a check without IP).
	Helo string
	Name string // The client's reverse name as the MTA resolved it.
	// NoRDNS: the MTA said it found no reverse name (Envelope.NoRDNS);
	// without it, an empty Name is only not known.
	NoRDNS bool
}

// Origin is the envelope a report of the held message gives the complaint
// desk: its client is the origin, as the node's own MTA saw it. ok is
// false when the session named no client, or one inside the provider
// (loopback, private: a relay of its own), where the desk's trace-back of
// the Received fields knows better.
func (h Held) Origin() (env analysis.Envelope, ok bool) {
	ip, err := netip.ParseAddr(h.Session.IP)
	if err != nil || trace.Internal(ip) {
		return analysis.Envelope{}, false
	}
	return analysis.Envelope{RemoteIP: ip, HELO: h.Session.Helo, RDNS: h.Session.Name, NoRDNS: h.Session.NoRDNS, MailFrom: h.MailFrom, RcptTo: []string{h.Recipient}}, true
}

// Quarantine states.
const (
	StateHeld      = "held"
	StateReleasing = "releasing" // Being handed to the outbound mail.
	StateQueued    = "queued"    // Released, waiting in the outbound queue for the relay.
	StateReleased  = "released"  // Delivered to the relay.
	StateDeleted   = "deleted"
)

// HeldFilter selects quarantined messages.
type HeldFilter struct {
	Recipient string // "" for all (administrators).
	State     string // "" for all.
	Limit     int
}

// AuditEntry records who did what to something confidential: an
// administrator reading a quarantined message, releasing, deleting,
// changing a policy.
type AuditEntry struct {
	At     time.Time
	Actor  string // "user:name", "token:id", "cli", "digest-link"
	Action string // "quarantine.read", "quarantine.release", …
	Target string
	Detail string
}

// Learned is one message a filter learned from, as stored: its features
// (never its text), class, source and time.
type Learned struct {
	Digest  uint64
	Spam    bool
	At      time.Time
	Source  string // "rspamd", "spamd", "release", "cli", "web", …
	Sample  []byte // classify.Sample, encoded
	ModelID string // The table size it was extracted for ("bits=20").
}

// Snapshot is a model built from the learned messages, shared by the
// filter instances of one node.
type Snapshot struct {
	Version int64 // The highest learned-message sequence it includes.
	At      time.Time
	Model   []byte // classify model file, without kept messages
}

// Store keeps what the filter needs across messages and instances.
type Store interface {
	// Policies.
	PutPolicy(ctx context.Context, p Policy) error
	Policy(ctx context.Context, kind, key string) (Policy, error) // ErrNotFound
	Policies(ctx context.Context) ([]Policy, error)
	DeletePolicy(ctx context.Context, kind, key string) error

	// Quarantine. Hold keeps the message for one recipient; its bytes
	// are stored once however many recipients hold them.
	Hold(ctx context.Context, h Held) error
	// HeldUsage is what the quarantine keeps: for recipient, the
	// messages still held (held, releasing, queued) and their size; for
	// everybody, the bytes stored.
	HeldUsage(ctx context.Context, recipient string) (n int, size, total int64, err error)
	HeldMessage(ctx context.Context, id string) (Held, error)       // with Raw
	HeldMessages(ctx context.Context, f HeldFilter) ([]Held, error) // ErrLimit over MaxHeldLimit
	// SetHeldState moves a message from one state to another; it fails
	// with ErrNotFound when the message is not in state from (so two
	// releases never both succeed).
	SetHeldState(ctx context.Context, id, from, to, by string, at time.Time) error
	// PurgeHeld deletes the messages (and their bytes) that expired or
	// were released or deleted before t.
	PurgeHeld(ctx context.Context, t time.Time) (int, error)
	// DropHeldBytes erases a message's bytes (kept while another held
	// row shares them), leaving its row: what a delete or a delivered
	// release does at once, before the purge removes the row.
	DropHeldBytes(ctx context.Context, id string) error
	// AnnounceHeld marks the messages still held that no digest has
	// listed yet as announced at at, and returns them (without Raw),
	// oldest first, at most limit: the mark is in the store, so a restart
	// loses none, and each message is given to one caller only, however
	// many instances share the store.
	AnnounceHeld(ctx context.Context, at time.Time, limit int) ([]Held, error)
	// UnannounceHeld takes the mark back from messages whose digest could
	// not be sent, so the next digest lists them.
	UnannounceHeld(ctx context.Context, ids []string) error

	// Audit.
	// Audit entries go to the node's audit log (one for the desk and
	// the filter), named so as not to clash with the desk's methods.
	FilterAudit(ctx context.Context, e AuditEntry) error
	FilterAuditLog(ctx context.Context, target string, limit int) ([]AuditEntry, error) // ErrLimit over MaxAuditLimit

	// Learning shared by instances.
	AddLearned(ctx context.Context, l Learned) (seq int64, err error)
	LearnedSince(ctx context.Context, seq int64, modelID string) ([]Learned, int64, error)
	PurgeLearned(ctx context.Context, before time.Time) (int, error)
	PutSnapshot(ctx context.Context, s Snapshot) error
	LatestSnapshot(ctx context.Context) (Snapshot, error) // ErrNotFound
}

// CampaignSource lists the complaint desk's confirmed campaigns, for the
// near-duplicate check (implemented by the node's store): those an
// analyst took up (a case in triage, investigating or referred) with
// reports from at least minReports distinct reporters.
type CampaignSource interface {
	ConfirmedCampaigns(ctx context.Context, minReports int) ([]Campaign, error)
}

// Campaign is a confirmed campaign as the filter sees it.
type Campaign struct {
	ID        string
	Reports   int // Distinct reporters.
	Signature campaign.Signature
}

// IndicatorSource lists the indicators partners sent, still within their
// retention (implemented over the federation store by the node).
type IndicatorSource interface {
	Indicators(ctx context.Context, now time.Time) ([]intel.Indicator, error)
}
