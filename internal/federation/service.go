package federation

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Service is a node's side of the federation: what it shares with each
// peer (decided when it leaves), what it accepts from them, the mutual
// assistance requests, and the custody logs of every link. It knows no
// HTTP: peers are reached through a Transport, and the edge (fedhttp)
// serves its inbox.
type Service struct {
	Store        Store
	Source       Source // What the node knows: its reports, grouped in campaigns.
	Key          ed25519.PrivateKey
	Jurisdiction string
	Transport    Transport
	Now          func() time.Time
	Log          *slog.Logger
	Window       time.Duration // Accepted clock difference for envelopes (10 minutes).
	MaxItems     int           // Items per envelope (500).
	MaxBytes     int           // Item bytes per envelope (16 MiB); a larger item goes alone.

	mu    sync.Mutex
	links map[string]*sync.Mutex // One exchange at a time per peer.
	// budgets are the smaller item budgets of the peers an envelope could
	// not reach in time (SlowError), for this process's life.
	budgets   map[string]int
	collector *Collector // Made on first use; keeps what each report contributes.

	admMu    sync.Mutex           // Guards admitted and admOrder only.
	admitted map[string]time.Time // Body hashes of the admissions checked (Admit), when.
	admOrder []admittedAt         // The same, oldest first: expired ones leave from the front.
}

// admittedAt is one admitted body hash and when it was admitted.
type admittedAt struct {
	body string
	at   time.Time
}

// Collect builds the shared set, reading in full only the reports new or
// changed since this service last collected (see Collector).
func (s *Service) Collect(ctx context.Context) (*Shared, error) {
	s.mu.Lock()
	if s.collector == nil {
		s.collector = NewCollector(s.Source, s.Jurisdiction)
	}
	c := s.collector
	s.mu.Unlock()
	ws, err := s.Store.Withheld(ctx)
	if err != nil {
		return nil, fmt.Errorf("collect: %w", err)
	}
	return c.CollectWithheld(ctx, ws)
}

// SharedVersion is what the shared set is computed from: the reports'
// version and the domains withheld. An equal version means an equal set.
func (s *Service) SharedVersion(ctx context.Context) (string, error) {
	v, err := s.Source.SharedVersion(ctx)
	if err != nil {
		return "", err
	}
	ws, err := s.Store.Withheld(ctx)
	if err != nil {
		return "", err
	}
	if w := withheldVersion(ws); w != "" {
		v += "/withheld:" + w
	}
	return v, nil
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.DiscardHandler)
}

// lock serialises the exchanges with one peer in this process: a sync,
// a status query and the settling of a pending envelope never overlap.
func (s *Service) lock(peer string) func() {
	s.mu.Lock()
	if s.links == nil {
		s.links = map[string]*sync.Mutex{}
	}
	m := s.links[peer]
	if m == nil {
		m = &sync.Mutex{}
		s.links[peer] = m
	}
	s.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// Self is this node's public key, base64.
func (s *Service) Self() string {
	return base64.StdEncoding.EncodeToString(s.Key.Public().(ed25519.PublicKey))
}

// NodeIdentity is what names the node to partners and TAXII clients
// whatever its key: a random id made once, with the time it was made.
type NodeIdentity struct {
	ID      string // A UUID.
	Created time.Time
}

// Node returns the node's identity.
func (s *Service) Node(ctx context.Context) (NodeIdentity, error) { return s.Store.NodeIdentity(ctx) }

// NewUUID returns a random (version 4) UUID.
func NewUUID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Init records the node's current key in its key history, and gives the
// node its stable identity and every peer its collection id when they
// have none yet: ids that no key rotation changes.
func (s *Service) Init(ctx context.Context) error {
	if _, err := s.Store.NodeIdentity(ctx); errors.Is(err, ErrNotFound) {
		if err := s.Store.SaveNodeIdentity(ctx, NodeIdentity{ID: NewUUID(), Created: s.now()}); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	peers, err := s.Store.Peers(ctx)
	if err != nil {
		return err
	}
	for _, p := range peers {
		if p.Collection == "" {
			if err := s.Store.SetPeerCollection(ctx, p.Name, NewUUID()); err != nil {
				return err
			}
		}
	}
	keys, err := s.Store.OwnKeys(ctx)
	if err != nil {
		return err
	}
	self := s.Self()
	for _, k := range keys {
		if k.Key != self {
			continue
		}
		if !k.Retired.IsZero() {
			return &KeyMismatchError{Self: self, Retired: k.Retired, Current: currentOwn(keys)}
		}
		return nil
	}
	if cur := currentOwn(keys); cur != "" {
		// Another key is the node's: this is a second instance given a
		// new key instead of a copy of the node's, or a restored data
		// folder. Taking the key here would retire the running
		// instances' key behind their back (their envelopes then
		// refused by every peer, their opt-out tokens unreadable here).
		return &KeyMismatchError{Self: self, Current: cur}
	}
	return s.Store.RecordOwnKey(ctx, OwnKey{Key: self, Added: s.now()})
}

// Rotate makes the service's key the node's current key, retiring the
// one before it (which still vouches for what it signed): what
// "accord keys rotate" does after writing the new key file. Init refuses
// a key the store does not know as current; only Rotate changes it.
func (s *Service) Rotate(ctx context.Context) error {
	keys, err := s.Store.OwnKeys(ctx)
	if err != nil {
		return err
	}
	self := s.Self()
	for _, k := range keys {
		if k.Key == self && k.Retired.IsZero() {
			return s.Init(ctx)
		}
	}
	for _, k := range keys {
		if k.Retired.IsZero() {
			k.Retired = s.now()
			if err := s.Store.RecordOwnKey(ctx, k); err != nil {
				return err
			}
		}
	}
	// A retired key made current again (undoing a rotation) is recorded
	// as current: its retirement is lifted, its history kept.
	if err := s.Store.RecordOwnKey(ctx, OwnKey{Key: self, Added: s.now()}); err != nil {
		return err
	}
	return s.Init(ctx)
}

// currentOwn returns the store's current (unretired) own key, or "".
func currentOwn(keys []OwnKey) string {
	for _, k := range keys {
		if k.Retired.IsZero() {
			return k.Key
		}
	}
	return ""
}

// fingerprintOf is a stored key's fingerprint, or the key itself if it
// does not parse.
func fingerprintOf(key string) string {
	b, err := base64.StdEncoding.DecodeString(key)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return key
	}
	return Fingerprint(b)
}

// KeyMismatchError is Init's refusal of a key that is not the node's
// current key in its store.
type KeyMismatchError struct {
	Self    string    // This process's key.
	Current string    // The store's current key ("" if none).
	Retired time.Time // When Self was retired, if it was.
}

func (e *KeyMismatchError) Error() string {
	msg := "federation: this data folder's node key (" + fingerprintOf(e.Self) + ") "
	if !e.Retired.IsZero() {
		msg += "was retired on " + e.Retired.UTC().Format(time.RFC3339)
	} else {
		msg += "is not the node's key in its store"
	}
	if e.Current != "" {
		msg += "; the node's current key is " + fingerprintOf(e.Current)
	}
	return msg + ": another instance of this node needs a copy of the node's node.key (one node, one key); a new key for the node is made with accord keys rotate"
}

// IsOwnKey reports whether key is, or was, this node's.
func (s *Service) IsOwnKey(ctx context.Context, key string) (bool, error) {
	key = strings.TrimSpace(key)
	if key == s.Self() {
		return true, nil
	}
	own, err := s.Store.OwnKeys(ctx)
	if err != nil {
		return false, err
	}
	for _, k := range own {
		if k.Key == key {
			return true, nil
		}
	}
	return false, nil
}

// ErrRemoved is returned for a change to a removed peer: removal is for
// good (add the partner again under another name).
var ErrRemoved = errors.New("federation: the peer was removed")

// SetPeerStatus suspends, resumes or removes a peer. A removed peer stays
// removed; removing it forgets what waited for it.
func (s *Service) SetPeerStatus(ctx context.Context, name string, st Status) error {
	unlock := s.lock(name)
	defer unlock()
	p, err := s.Store.Peer(ctx, name)
	if err != nil {
		return err
	}
	if p.Status == StatusRemoved {
		return fmt.Errorf("%w: %s cannot be %s", ErrRemoved, name, st)
	}
	switch st {
	case StatusRemoved:
		return s.Store.RemovePeer(ctx, name, s.now())
	case StatusActive, StatusSuspended:
		return s.Store.SetPeerStatus(ctx, name, st, s.now())
	}
	return fmt.Errorf("federation: unknown peer status %q", st)
}

// SetPeerURL changes where a peer's node is reached.
func (s *Service) SetPeerURL(ctx context.Context, name, url string) error {
	p, err := s.Store.Peer(ctx, name)
	if err != nil {
		return err
	}
	if p.Status == StatusRemoved {
		return fmt.Errorf("%w: %s", ErrRemoved, name)
	}
	return s.Store.SetPeerURL(ctx, name, strings.TrimSpace(url))
}

// ErrKeyTaken: a key cannot be given to a peer — another peer holds it
// (a removed one included), or it was revoked. A key belongs to one peer
// only, so that every signature names one partner.
var ErrKeyTaken = errors.New("federation: that key cannot be given to this peer")

// ErrOwnKey is returned when a peer would be given this node's own key.
var ErrOwnKey = errors.New("federation: that key is this node's own")

// PreviewLine is one item and what the policy says about it for a peer.
type PreviewLine struct {
	Item     Item
	Package  string
	Decision Decision
	State    string // "new", "changed", "sent" (unchanged since last sent).
}

// Preview shows exactly what a peer would receive now, and why anything
// else would not be sent. With a, it previews under that agreement instead
// of the one in force.
func (s *Service) Preview(ctx context.Context, peer string, a *Agreement) ([]PreviewLine, error) {
	sh, err := s.Collect(ctx)
	if err != nil {
		return nil, err
	}
	return s.PreviewShared(ctx, sh, peer, a)
}

// PreviewShared decides every item of a shared set already collected for
// a peer (under a, or the agreement in force when a is nil).
func (s *Service) PreviewShared(ctx context.Context, sh *Shared, peer string, a *Agreement) ([]PreviewLine, error) {
	p, err := s.Store.Peer(ctx, peer)
	if err != nil {
		return nil, err
	}
	if a == nil {
		a = p.Agreement
	}
	groups := sh.ItemsFor(a)
	sent, err := s.Store.Sent(ctx, peer)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var out []PreviewLine
	for _, g := range groups {
		for _, it := range g.Items {
			st := "new"
			if h, ok := sent[it.Key]; ok {
				st = "changed"
				if h == it.Hash {
					st = "sent"
				}
			}
			out = append(out, PreviewLine{Item: it, Package: g.ID, Decision: Decide(a, p.State(), it, now), State: st})
		}
	}
	return out, nil
}

// NewRequest opens a mutual assistance request to a peer, with the
// deadline the agreement sets, and queues it for the next sync.
func (s *Service) NewRequest(ctx context.Context, peer string, t RequestType, subject, body, campaign, legal, by string) (*Request, error) {
	p, err := s.Store.Peer(ctx, peer)
	if err != nil {
		return nil, err
	}
	if p.Status != StatusActive {
		return nil, fmt.Errorf("peer %s is %s", peer, p.Status)
	}
	if !ValidType(t) {
		return nil, fmt.Errorf("request type %q: want information, enforcement or alert", t)
	}
	if strings.TrimSpace(subject) == "" {
		return nil, errors.New("a request needs a subject")
	}
	if legal == "" && p.Agreement != nil {
		legal = p.Agreement.LegalBasis
	}
	now := s.now()
	r := &Request{ID: "a-" + newID(), Peer: peer, Role: Requester, Type: t, Subject: subject, Body: body, Campaign: campaign,
		LegalBasis: legal, Created: now, Deadline: DeadlineFor(t, p.Agreement, now), State: StateSent, Updated: now}
	m := AssistMsg{RequestID: r.ID, Action: ActCreate, Type: t, Subject: subject, Body: body, Campaign: campaign, LegalBasis: legal,
		Deadline: r.Deadline, At: now}
	r.Events = []Event{Event{At: now, Action: ActCreate, State: StateSent, By: by}.withMsg(m)}
	return r, s.Store.SaveRequest(ctx, r, &m)
}

// Transition takes an action on a request on this node's side and queues
// it for the peer.
func (s *Service) Transition(ctx context.Context, id string, a Action, note, by string) (*Request, error) {
	r, err := s.Store.Request(ctx, id)
	if err != nil {
		return nil, err
	}
	if a == ActRefuse && strings.TrimSpace(note) == "" {
		return nil, errors.New("a refusal needs its reason (--note)")
	}
	next, err := Next(r, a, r.Role)
	if err != nil {
		return nil, err
	}
	now := s.now()
	r.State, r.Updated = next, now
	m := AssistMsg{RequestID: r.ID, Action: a, At: now, Note: note}
	r.Events = append(r.Events, Event{At: now, Action: a, State: next, By: by, Note: note}.withMsg(m))
	return r, s.Store.SaveRequest(ctx, r, &m)
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

func newID() string {
	var b [10]byte
	rand.Read(b[:])
	return strings.ToLower(b32.EncodeToString(b[:]))
}
