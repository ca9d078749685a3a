package federation

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Payload is what a sync envelope carries.
type Payload struct {
	// Terms are the handling conditions of the agreement the items were
	// sent under: the receiver keeps them with the items and purges them
	// when the retention ends.
	Terms    *Terms    `json:"terms,omitempty"`
	Packages []Package `json:"packages,omitempty"`
	// Withdrawals are items sent before that the terms in force no longer
	// let the peer have: it marks them withdrawn and purges them when the
	// terms say (keep_withdrawn_days).
	Withdrawals []Withdrawal `json:"withdrawals,omitempty"`
	Assistance  []AssistMsg  `json:"assistance,omitempty"`
	// Reads are the peer's reads of this node's TAXII collection for it
	// since the last envelope: they enter both custody logs of the link.
	Reads []Read `json:"reads,omitempty"`
	// Checkpoint is the sender's custody log of this link after the
	// envelope's transfers: the receiver recomputes it, and countersigns it
	// only if its own log agrees.
	Checkpoint Checkpoint `json:"checkpoint"`
}

// MaxTermDays bounds the days terms may name (retention, time kept after a
// withdrawal): ten years. More is no agreement anyone signs, and a huge
// value overflows the expiry date into the past.
const MaxTermDays = 3650

// Check refuses terms a peer could not have agreed to: no agreement
// reference or version, negative days (which would mean "never expires"),
// or more than MaxTermDays.
func (t *Terms) Check() error {
	switch {
	case strings.TrimSpace(t.Agreement) == "" || t.Version < 1:
		return errors.New("terms name no agreement and version")
	case t.RetentionDays < 0 || t.RetentionDays > MaxTermDays:
		return fmt.Errorf("terms: retention_days %d is outside 0…%d", t.RetentionDays, MaxTermDays)
	case t.KeepWithdrawnDays < 0 || t.KeepWithdrawnDays > MaxTermDays:
		return fmt.Errorf("terms: keep_withdrawn_days %d is outside 0…%d", t.KeepWithdrawnDays, MaxTermDays)
	}
	return nil
}

// Terms travel with shared items.
type Terms struct {
	Agreement     string   `json:"agreement"`
	Version       int      `json:"version"`
	Purposes      []string `json:"purposes,omitempty"`
	LegalBasis    string   `json:"legal_basis,omitempty"`
	RetentionDays int      `json:"retention_days"` // 0: as long as the receiver's law allows.
	OnwardSharing bool     `json:"onward_sharing"`
	// KeepWithdrawnDays is how long a withdrawn item may still be kept (0:
	// purged at once).
	KeepWithdrawnDays int `json:"keep_withdrawn_days"`
}

// TermsOf are the handling conditions an agreement sets.
func TermsOf(a *Agreement) *Terms {
	if a == nil {
		return nil
	}
	return &Terms{Agreement: a.ID, Version: a.Version, Purposes: a.Purposes, LegalBasis: a.LegalBasis,
		RetentionDays: a.RetentionDays, OnwardSharing: a.OnwardSharing, KeepWithdrawnDays: a.KeepWithdrawnDays}
}

// Withdrawal takes back an item sent earlier.
type Withdrawal struct {
	Key    string `json:"key"`
	Hash   string `json:"hash"`   // Of the version sent.
	Clause string `json:"clause"` // What stops it now ("origins", "share", "held"…).
	Reason string `json:"reason"`
}

// Read is one read of a TAXII collection by the peer's client: when, what
// was asked, and a hash of the objects it got.
type Read struct {
	ID      int64     `json:"-"`
	At      time.Time `json:"at"`
	Request string    `json:"request"` // Path and query.
	Objects int       `json:"objects"`
	Hash    string    `json:"hash"` // SHA-256 of the served object ids and versions.
}

// Bounds of what reads add to the custody log and to an envelope: a
// peer's TAXII client chooses its request lines, and 30 reads with 60 KB
// query strings once made an envelope the peer refused as too large —
// rebuilt the same at every round, wedging the link and every withdrawal
// behind it.
const (
	MaxReadRequest = 512 // Bytes of a read's request kept; a longer one is cut and hashed.
	MaxReadsLogged = 64  // Reads an envelope logs one by one; more are logged as one summary.
)

// BoundRead cuts a read's request to MaxReadRequest bytes, naming the
// whole request's length and SHA-256 so it still can be matched.
func BoundRead(r Read) Read {
	if len(r.Request) <= MaxReadRequest {
		return r
	}
	sum := sha256.Sum256([]byte(r.Request))
	tail := fmt.Sprintf("… [%d bytes, sha256 %x]", len(r.Request), sum)
	cut := MaxReadRequest - len(tail)
	for cut > 0 && !utf8.RuneStart(r.Request[cut]) {
		cut--
	}
	r.Request = r.Request[:cut] + tail
	return r
}

// BoundReads is what an envelope logs of reads: each bounded, the first
// MaxReadsLogged-1 one by one and, when there are more, the rest as one
// summary (how many, from when to when, the objects served, and a hash
// over each read's key and hash). Its size stays under 64 KiB whatever
// the peer's client asked.
func BoundReads(rs []Read) []Read {
	out := make([]Read, 0, min(len(rs), MaxReadsLogged))
	for i, r := range rs {
		if i == MaxReadsLogged-1 && len(rs) > MaxReadsLogged {
			rest := rs[i:]
			h := sha256.New()
			objects := 0
			for _, x := range rest {
				x = BoundRead(x)
				fmt.Fprintf(h, "%s\n%s\n", x.Key(), x.Hash)
				objects += x.Objects
			}
			last := rest[len(rest)-1].At
			out = append(out, Read{At: last, Objects: objects, Hash: hex.EncodeToString(h.Sum(nil)),
				Request: fmt.Sprintf("%d reads from %s to %s, summarised", len(rest), rest[0].At.UTC().Format(time.RFC3339Nano), last.UTC().Format(time.RFC3339Nano))})
			break
		}
		out = append(out, BoundRead(r))
	}
	return out
}

// Key names a read in the custody log.
func (r Read) Key() string {
	return "taxii:" + r.At.UTC().Format(time.RFC3339Nano) + " " + r.Request
}

// Package is a set of items the sender signed as a whole — a campaign with
// its reports and evidence, the indicators, the statistics — of which the
// envelope carries the part the agreement allows. Each item comes with an
// inclusion proof, so the subset verifies against the signature of the
// whole without revealing the rest.
type Package struct {
	ID        string         `json:"id"`
	Size      uint64         `json:"size"` // Items in the whole set.
	Root      string         `json:"root"` // Hex Merkle root over the whole set's item leaves.
	SignedAt  time.Time      `json:"signed_at"`
	Signature string         `json:"signature"` // Base64, by the sender's node key, over Statement().
	Items     []PackagedItem `json:"items"`
}

// PackagedItem is one item with its place in its package.
type PackagedItem struct {
	Item  Item     `json:"item"`
	Index uint64   `json:"index"`
	Proof []string `json:"proof"` // Hex hashes.
}

// Statement is what a package signature covers.
func (p *Package) Statement() []byte {
	return []byte("accord-package/1\n" + p.ID + "\n" + strconv.FormatUint(p.Size, 10) + "\n" + p.Root + "\n" + p.SignedAt.UTC().Format(time.RFC3339Nano) + "\n")
}

// ItemLeaf is the Merkle leaf of an item in a package; hash is the item's
// Marked hash, so the package's signature covers its markings too.
func ItemLeaf(key, hash string) []byte {
	return LeafHash([]byte("accord-item/2\n" + key + "\n" + hash + "\n"))
}

// Marked is the hash that binds an item's body to its handling markings
// — kind, TLP, origins, personal-data flag, statistics count — to where
// it belongs and when it was last updated (its campaign, its updated
// time), and to the terms it travelled under (nil or empty: none).
// Packages sign it and the custody log records it, so a receiver who
// edits a stored item's TLP, flags, campaign, time or terms afterwards is
// found by `custody verify` as surely as one who edits its body.
//
// Origins are joined with commas, which no country code holds; a list
// that could join like another (an origin with a comma, or an empty one:
// ["US","CA"] and ["US,CA"]) is hashed under its own tag with the list
// as JSON, so no two lists share a hash — and every list an envelope can
// bring hashes as it always did, so logged hashes still verify.
func (it Item) Marked(terms *Terms) string {
	th, pd := it.markedParts(terms)
	tag, origins := markedOrigins("accord-marked/2", it.Origins)
	return HashBody([]byte(tag + "\n" + it.Key + "\n" + string(it.Kind) + "\n" + string(it.TLP) + "\n" +
		origins + "\n" + pd + "\n" + strconv.Itoa(it.Count) + "\n" + it.Campaign + "\n" +
		it.Updated.UTC().Format(time.RFC3339Nano) + "\n" + it.Hash + "\n" + th + "\n"))
}

// markedOrigins is the tag and the origins as Marked writes them: joined
// with commas under tag, or as JSON under tag+"j" when a join would be
// ambiguous.
func markedOrigins(tag string, origins []string) (string, string) {
	for _, o := range origins {
		if o == "" || strings.Contains(o, ",") {
			b, _ := json.Marshal(origins)
			return tag + "j", string(b)
		}
	}
	return tag, strings.Join(origins, ",")
}

// MarkedV1 is Marked as custody logs recorded it before the campaign and
// updated time were bound: an entry logged then still verifies, without
// them (no log of that time recorded them). An entry logged since never
// matches it, as the two hashes differ.
func (it Item) MarkedV1(terms *Terms) string {
	th, pd := it.markedParts(terms)
	tag, origins := markedOrigins("accord-marked/1", it.Origins)
	return HashBody([]byte(tag + "\n" + it.Key + "\n" + string(it.Kind) + "\n" + string(it.TLP) + "\n" +
		origins + "\n" + pd + "\n" + strconv.Itoa(it.Count) + "\n" + it.Hash + "\n" + th + "\n"))
}

func (it Item) markedParts(terms *Terms) (termsHash, personal string) {
	if terms != nil {
		if b, _ := json.Marshal(terms); !bytes.Equal(b, emptyTerms) {
			termsHash = HashBody(b)
		}
	}
	personal = "0"
	if it.PersonalData {
		personal = "1"
	}
	return termsHash, personal
}

var emptyTerms, _ = json.Marshal(&Terms{})

// HashBody returns the hex SHA-256 of an item body.
func HashBody(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// BuildPackage signs the whole set and returns the package holding the
// items whose keys are in include.
func BuildPackage(priv ed25519.PrivateKey, id string, all []Item, include map[string]bool, now time.Time) (Package, error) {
	sorted := append([]Item(nil), all...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Key < sorted[j].Key })
	leaves := make([][]byte, len(sorted))
	for i, it := range sorted {
		leaves[i] = ItemLeaf(it.Key, it.Marked(nil))
	}
	tree := NewTree(leaves)
	p := Package{ID: id, Size: uint64(len(sorted)), Root: hexs(tree.Root()), SignedAt: now.UTC()}
	p.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(priv, p.Statement()))
	for i, it := range sorted {
		if !include[it.Key] {
			continue
		}
		pr, err := tree.InclusionProof(uint64(i))
		if err != nil {
			return p, err
		}
		hs := make([]string, len(pr))
		for j, h := range pr {
			hs[j] = hexs(h)
		}
		p.Items = append(p.Items, PackagedItem{Item: it, Index: uint64(i), Proof: hs})
	}
	return p, nil
}

// ErrBadPackage is returned for a package whose signature, item hashes or
// proofs do not verify.
var ErrBadPackage = errors.New("federation: a package does not verify")

// VerifyPackage checks a package against the signer's key.
func VerifyPackage(pub ed25519.PublicKey, p *Package) error {
	sig, err := base64.StdEncoding.DecodeString(p.Signature)
	if err != nil || !ed25519.Verify(pub, p.Statement(), sig) {
		return fmt.Errorf("%w: package %s: bad signature", ErrBadPackage, p.ID)
	}
	root, err := hex.DecodeString(p.Root)
	if err != nil {
		return fmt.Errorf("%w: package %s: bad root", ErrBadPackage, p.ID)
	}
	for _, pi := range p.Items {
		if HashBody(pi.Item.Body) != pi.Item.Hash {
			return fmt.Errorf("%w: item %s: body does not match its hash", ErrBadPackage, pi.Item.Key)
		}
		proof := make([][]byte, len(pi.Proof))
		for i, h := range pi.Proof {
			if proof[i], err = hex.DecodeString(h); err != nil {
				return fmt.Errorf("%w: item %s: bad proof", ErrBadPackage, pi.Item.Key)
			}
		}
		if err := VerifyInclusion(pi.Index, p.Size, ItemLeaf(pi.Item.Key, pi.Item.Marked(nil)), proof, root); err != nil {
			return fmt.Errorf("%w: item %s: %v", ErrBadPackage, pi.Item.Key, err)
		}
	}
	return nil
}

// Checkpoint is the state of one link's custody log (what the sender sent
// to the receiver), signed by the sender and countersigned by the receiver
// once its own log of what it received agrees.
type Checkpoint struct {
	From              string    `json:"from"` // Sender's key.
	To                string    `json:"to"`   // Receiver's key.
	Seq               uint64    `json:"seq"`  // The envelope that closed it.
	Size              uint64    `json:"size"`
	Root              string    `json:"root"`
	Time              time.Time `json:"time"`
	SenderSignature   string    `json:"sender_signature"`
	ReceiverSignature string    `json:"receiver_signature,omitempty"`
	// Recorded is when this node stored it, by its own clock (not signed,
	// never sent): what key validity is judged against.
	Recorded time.Time `json:"-"`
}

// Statement is what both signatures of a checkpoint cover.
func (c *Checkpoint) Statement() []byte {
	return []byte(strings.Join([]string{"accord-checkpoint/1", c.From, c.To, strconv.FormatUint(c.Seq, 10),
		strconv.FormatUint(c.Size, 10), c.Root, c.Time.UTC().Format(time.RFC3339Nano)}, "\n") + "\n")
}

// VerifySignatures checks the sender's and (when present) the receiver's
// signatures, with the keys the checkpoint names.
func (c *Checkpoint) VerifySignatures() error {
	check := func(who, key, sig string) error {
		pub, err := ParsePublicKey(key)
		if err != nil {
			return fmt.Errorf("checkpoint %d: %s key: %w", c.Seq, who, err)
		}
		s, err := base64.StdEncoding.DecodeString(sig)
		if err != nil || !ed25519.Verify(pub, c.Statement(), s) {
			return fmt.Errorf("checkpoint %d: the %s's signature does not verify", c.Seq, who)
		}
		return nil
	}
	if err := check("sender", c.From, c.SenderSignature); err != nil {
		return err
	}
	if c.ReceiverSignature != "" {
		return check("receiver", c.To, c.ReceiverSignature)
	}
	return nil
}

// TransferLeaf is a custody-log leaf: one item or assistance message
// moved over a link in envelope seq.
func TransferLeaf(seq uint64, what, key, hash string) []byte {
	return LeafHash([]byte("accord-transfer/1\n" + what + "\n" + strconv.FormatUint(seq, 10) + "\n" + key + "\n" + hash + "\n"))
}

// LogEntry is one custody-log leaf with what it records.
type LogEntry struct {
	Index uint64
	Seq   uint64
	What  string // "item", "terms", "withdraw", "assist" or "read".
	Key   string
	Hash  string
	At    time.Time
	Leaf  []byte
}

// TermsEntryKey is the key of the "terms" custody entry an envelope with
// withdrawals logs: the terms' JSON (none: the zero terms, which keep
// nothing withdrawn), so the log itself holds them.
func TermsEntryKey(t *Terms) string {
	if t == nil {
		t = &Terms{}
	}
	b, _ := json.Marshal(t)
	return string(b)
}

// EnvelopeLeaves returns the custody entries an envelope adds, in order.
func EnvelopeLeaves(seq uint64, p *Payload, at time.Time) []LogEntry {
	var out []LogEntry
	for _, pk := range p.Packages {
		for _, pi := range pk.Items {
			// The item's Marked hash: its body, markings and terms.
			out = append(out, LogEntry{Seq: seq, What: "item", Key: pi.Item.Key, Hash: pi.Item.Marked(p.Terms), At: at})
		}
	}
	if len(p.Withdrawals) > 0 {
		// The terms the withdrawals came under, logged by both nodes:
		// their keep_withdrawn_days is how long the receiver may keep
		// what is withdrawn, which custody verify checks against the
		// envelope's signed time.
		k := TermsEntryKey(p.Terms)
		out = append(out, LogEntry{Seq: seq, What: "terms", Key: k, Hash: HashBody([]byte(k)), At: at})
	}
	for _, w := range p.Withdrawals {
		out = append(out, LogEntry{Seq: seq, What: "withdraw", Key: w.Key, Hash: w.Hash, At: at})
	}
	for _, m := range p.Assistance {
		h := m.Hash()
		out = append(out, LogEntry{Seq: seq, What: "assist", Key: m.RequestID + "#" + string(m.Action), Hash: h, At: at})
	}
	for _, r := range p.Reads {
		out = append(out, LogEntry{Seq: seq, What: "read", Key: r.Key(), Hash: r.Hash, At: at})
	}
	for i := range out {
		out[i].Leaf = TransferLeaf(seq, out[i].What, out[i].Key, out[i].Hash)
	}
	return out
}
