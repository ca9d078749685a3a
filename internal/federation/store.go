package federation

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// ErrNotFound is returned for unknown peers and requests.
var ErrNotFound = errors.New("federation: not found")

// Store keeps the registry, what moved over each link and the assistance
// requests. store/sqlite and store/postgres implement it.
type Store interface {
	AddPeer(ctx context.Context, p Peer) error
	Peer(ctx context.Context, name string) (*Peer, error)
	// PeerByKey finds the peer that holds key (in any state); ErrNotFound
	// when no peer does.
	PeerByKey(ctx context.Context, key string) (*Peer, error)
	Peers(ctx context.Context) ([]Peer, error)
	SetPeerStatus(ctx context.Context, name string, s Status, at time.Time) error
	SetPeerURL(ctx context.Context, name, url string) error
	// RemovePeer marks a peer removed for good and forgets what waited
	// for it (pending envelope, queued messages, unlogged reads); its
	// keys, custody logs and the items it sent stay.
	RemovePeer(ctx context.Context, name string, at time.Time) error
	// AddPeerKey makes key the peer's active key; the old active key is
	// retired.
	AddPeerKey(ctx context.Context, name, key string, at time.Time) error
	SetKeyStatus(ctx context.Context, name, key string, s KeyStatus, at time.Time) error
	// RevokeKey revokes a key from at (which may be in the past: the time
	// from which it is not to be trusted); its retirement time stays.
	RevokeKey(ctx context.Context, name, key string, at time.Time) error
	SetPeerCollection(ctx context.Context, name, id string) error
	// NodeIdentity is ErrNotFound until SaveNodeIdentity made it.
	NodeIdentity(ctx context.Context) (NodeIdentity, error)
	SaveNodeIdentity(ctx context.Context, n NodeIdentity) error
	// SetAgreement records a new version of the agreement with a peer.
	SetAgreement(ctx context.Context, name string, a *Agreement, at time.Time) error
	AgreementHistory(ctx context.Context, name string) ([]AgreementRecord, error)

	// OwnKeys is the history of this node's public keys.
	OwnKeys(ctx context.Context) ([]OwnKey, error)
	RecordOwnKey(ctx context.Context, k OwnKey) error

	Link(ctx context.Context, peer string) (Link, error)
	// Sent returns item key -> hash of what was last sent to the peer.
	Sent(ctx context.Context, peer string) (map[string]string, error)
	// SavePending keeps an envelope before it is posted, so that if its
	// fate is unknown (no answer) the next round can ask the peer whether
	// it holds it and record it exactly, or drop it.
	SavePending(ctx context.Context, peer string, p Pending) error
	Pending(ctx context.Context, peer string) (*Pending, error) // nil when none.
	// DropPending forgets a pending envelope the peer never got: what it
	// carried is decided again under the terms then in force.
	DropPending(ctx context.Context, peer string) error
	// AbandonPending sets the pending envelope aside: its sequence is
	// never sealed again (the next envelope takes a higher one), and it is
	// kept in case the peer turns out to hold it after all (then
	// CommitSent records it). confirmed: the peer, asked, did not hold it
	// and refuses it from then on (VoidInbound on its side).
	AbandonPending(ctx context.Context, peer string, confirmed bool, at time.Time) error
	// Abandoned lists the envelopes set aside that the peer has not yet
	// confirmed it refuses, oldest first.
	Abandoned(ctx context.Context, peer string) ([]Pending, error)
	// ConfirmAbandoned records that the peer refuses every envelope set
	// aside up to upTo.
	ConfirmAbandoned(ctx context.Context, peer string, upTo uint64, at time.Time) error
	// VoidInbound records that the peer set aside every envelope up to
	// upTo this node has not accepted: CommitReceived refuses them
	// (ErrVoided). Nothing changes when this node already accepted upTo.
	VoidInbound(ctx context.Context, peer string, upTo uint64) error
	// CommitSent records a delivered envelope: the items (and the
	// withdrawn ones as no longer sent), the custody entries, the
	// countersigned checkpoint, the sequence; it removes the delivered
	// outbox messages, the reads it logged and the pending envelope. All
	// or nothing.
	CommitSent(ctx context.Context, d Delivery) error
	// RecordRead keeps a read of a peer's TAXII collection until the next
	// envelope logs it; UnloggedReads lists those waiting.
	RecordRead(ctx context.Context, peer string, r Read) error
	UnloggedReads(ctx context.Context, peer string) ([]Read, error)
	// CommitReceived stores a verified envelope: all or nothing.
	CommitReceived(ctx context.Context, r Receipt) error
	// ReceivedCheckpoint returns the checkpoint stored for an inbound
	// envelope (to answer a retried delivery).
	ReceivedCheckpoint(ctx context.Context, peer string, seq uint64) (*Checkpoint, string, error)
	Received(ctx context.Context, f ReceivedFilter) ([]ReceivedItem, error)
	// PurgeExpired deletes the bodies of received items whose retention
	// (or time allowed after a withdrawal) ended by now, keeping a
	// tombstone with the key and hash; the custody logs keep theirs too.
	PurgeExpired(ctx context.Context, now time.Time) (int, error)

	Log(ctx context.Context, peer string, dir Direction) ([]LogEntry, error)
	Checkpoints(ctx context.Context, peer string, dir Direction) ([]Checkpoint, error)

	FeedStore

	Outbox(ctx context.Context, peer string) ([]Queued, error)

	// Withheld lists the domains marked as not the spammer's, by domain.
	Withheld(ctx context.Context) ([]Withheld, error)
	// AddWithheld marks a domain; ErrExists when it already is.
	AddWithheld(ctx context.Context, w Withheld) error
	// RemoveWithheld removes a marking; ErrNotFound when there is none.
	RemoveWithheld(ctx context.Context, domain string) error

	// SaveRequest inserts or updates a request (new events appended) and,
	// when queue is not nil, queues the message for the peer, atomically.
	SaveRequest(ctx context.Context, r *Request, queue *AssistMsg) error
	Request(ctx context.Context, id string) (*Request, error)
	Requests(ctx context.Context, peer string) ([]Request, error)
}

// Direction of a link's log: what this node sent, or received.
type Direction string

const (
	Out Direction = "out"
	In  Direction = "in"
)

// Link is the state of the exchange with one peer.
type Link struct {
	OutSeq uint64 // Last envelope delivered to the peer.
	InSeq  uint64 // Last envelope accepted from the peer.
	// InAgreement and InVersion are the newest terms the peer's envelopes
	// came under: an envelope under an older version of that agreement was
	// decided before the peer narrowed or changed it, and is refused.
	InAgreement string
	InVersion   int
	// OutVoid is the highest sequence this node sealed and set aside
	// (AbandonPending): the next envelope's is above it and OutSeq.
	OutVoid uint64
	// InVoid is the highest sequence the peer said it set aside: an
	// envelope up to it that has not arrived never will be accepted.
	InVoid uint64
}

// NextSeq is the sequence of the next envelope sealed for the peer: never
// one that was sealed before, delivered or set aside.
func (l Link) NextSeq() uint64 { return max(l.OutSeq, l.OutVoid) + 1 }

// AgreementRecord is one stored version.
type AgreementRecord struct {
	Version int
	At      time.Time
	Raw     string
}

// OwnKey is one of this node's keys over time.
type OwnKey struct {
	Key     string
	Added   time.Time
	Retired time.Time // Zero while current.
}

// Queued is an assistance message waiting for delivery.
type Queued struct {
	ID  int64
	Msg AssistMsg
}

// Delivery is a delivered envelope, as the sender records it.
type Delivery struct {
	Peer       string
	Seq        uint64
	Items      []Item
	Withdrawn  []string // Keys of the items withdrawn.
	Entries    []LogEntry
	Checkpoint Checkpoint
	Delivered  []int64 // Outbox ids.
	Reads      []int64 // Read ids logged.
	Agreement  int     // The version of the agreement the items were decided under.
	Withheld   string  // The domains withheld when they were (withheldVersion).
	BuiltAt    time.Time
}

// Pending is an envelope built but not yet acknowledged.
type Pending struct {
	Seq      uint64
	Payload  []byte
	Delivery Delivery // What to record once it is acknowledged.
}

// Receipt is an accepted envelope, as the receiver records it.
type Receipt struct {
	Peer        string
	Seq         uint64
	PayloadHash string
	Items       []ReceivedItem
	At          time.Time // When this node accepted it.
	Withdrawals []Withdrawal
	Terms       *Terms      // In force when the envelope was sent.
	Requests    []*Request  // Created or changed by the envelope.
	Replies     []AssistMsg // Messages to queue back (acknowledgements).
	Entries     []LogEntry
	Checkpoint  Checkpoint
}

// ReceivedItem is an item a peer sent, with the package that proves it.
type ReceivedItem struct {
	Peer       string
	Item       Item
	Package    string
	Root       string
	Signature  string
	SignedAt   time.Time
	Seq        uint64
	ReceivedAt time.Time
	Terms      Terms
	ExpiresAt  time.Time // Zero: no retention limit was set.
	// Proof is where the item sits in its package (nil: received before
	// proofs were kept): with Package, Root, SignedAt and Signature it
	// proves the sender signed the item (VerifyOrigin).
	Proof     *ItemProof
	Withdrawn time.Time // When the sender withdrew it; zero while it stands.
	Why       string    // The withdrawal's clause and reason.
	Purged    time.Time // When its body was deleted; zero while kept.
	// FiledKey and FiledKind are what the store files the item under (and
	// selects it by): they must be the item's own key and kind, which its
	// logged hash covers — custody verify compares them. Empty when
	// stored, not read.
	FiledKey  string
	FiledKind Kind
}

// ItemProof is a received item's place in its signed package.
type ItemProof struct {
	Size  uint64   `json:"size"`  // Items in the whole package.
	Index uint64   `json:"index"` // The item's leaf.
	Path  []string `json:"path"`  // Hex inclusion proof.
}

// VerifyOrigin checks that pub signed the item as held: the package's
// signature over its id, size, root and time, and the item's inclusion
// in that root (by its Marked hash, as the package signs it — which needs
// no body, so a purged item's tombstone verifies too).
func (r ReceivedItem) VerifyOrigin(pub ed25519.PublicKey) error {
	if r.Proof == nil {
		return errors.New("no inclusion proof kept")
	}
	p := Package{ID: r.Package, Size: r.Proof.Size, Root: r.Root, SignedAt: r.SignedAt, Signature: r.Signature}
	sig, err := base64.StdEncoding.DecodeString(r.Signature)
	if err != nil || !ed25519.Verify(pub, p.Statement(), sig) {
		return fmt.Errorf("package %s: the signature does not verify", r.Package)
	}
	root, err := hex.DecodeString(r.Root)
	if err != nil {
		return fmt.Errorf("package %s: bad root", r.Package)
	}
	path := make([][]byte, len(r.Proof.Path))
	for i, h := range r.Proof.Path {
		if path[i], err = hex.DecodeString(h); err != nil {
			return fmt.Errorf("package %s: bad proof", r.Package)
		}
	}
	if err := VerifyInclusion(r.Proof.Index, r.Proof.Size, ItemLeaf(r.Item.Key, r.Item.Marked(nil)), path, root); err != nil {
		return fmt.Errorf("package %s: the item is not in it: %v", r.Package, err)
	}
	return nil
}

// Status of a received item.
func (r ReceivedItem) Status() string {
	switch {
	case !r.Purged.IsZero():
		return "purged"
	case !r.Withdrawn.IsZero():
		return "withdrawn"
	}
	return "held"
}

// ReceivedFilter selects received items.
type ReceivedFilter struct {
	Peer   string
	Kind   Kind
	Limit  int // 0: all.
	Offset int
}
