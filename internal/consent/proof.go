package consent

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/accord-antispam/accord/internal/nodekey"
	"github.com/accord-antispam/accord/internal/strictjson"
)

// ProofFormat names the proof document's format and version.
const ProofFormat = "accord-consent-proof/1"

// Proof is a signed statement by the node of what it holds about one
// recipient of one sender: the records, the suppressions and every event
// of the sender's log about that recipient, each with its chain hash.
//
// Signature is Ed25519 by the node's key over the payload with
// insignificant whitespace removed (json.Compact), so the document may be
// re-indented but not edited. See docs/consent.md.
type Proof struct {
	Payload   json.RawMessage `json:"payload"`
	Signature string          `json:"signature"` // Base64.
}

// ProofPayload is what a proof says.
type ProofPayload struct {
	Format        string          `json:"format"`
	Node          ProofNode       `json:"node"`
	IssuedAt      time.Time       `json:"issued_at"`
	Sender        ProofSender     `json:"sender"`
	Recipient     string          `json:"recipient"`      // The address the proof was asked for.
	RecipientHash string          `json:"recipient_hash"` // Its keyed hash, as the records hold it.
	List          string          `json:"list,omitempty"` // The list asked about; "" for all.
	Summary       ProofSummary    `json:"summary"`
	Records       []ProofRecord   `json:"records"`
	Suppressions  []ProofSuppress `json:"suppressions"`
	Events        []Event         `json:"events"`
	Head          ProofHead       `json:"log_head"` // The sender's log when the proof was made.
}

// ProofNode is the issuing node.
type ProofNode struct {
	Name string `json:"name,omitempty"`
	URL  string `json:"url,omitempty"`
	Key  string `json:"key"` // Base64 Ed25519 public key.
}

// ProofSender is the sender as registered.
type ProofSender struct {
	ID            string   `json:"id"`
	Name          string   `json:"name,omitempty"`
	Contact       string   `json:"contact"`
	Domains       []string `json:"domains"`
	PostalAddress string   `json:"postal_address,omitempty"`
	Status        string   `json:"status"`
}

// ProofSummary is the answer in one line, for the list asked about.
type ProofSummary struct {
	ConsentOnRecord bool   `json:"consent_on_record"` // An active record stands.
	Basis           string `json:"basis,omitempty"`
	Confirmed       bool   `json:"confirmed"` // By the recipient's POST on the mailed link.
	OptedOut        bool   `json:"opted_out"`
	Text            string `json:"text"`
}

// ProofRecord is a consent record in a proof.
type ProofRecord struct {
	ID          string     `json:"id"`
	List        string     `json:"list"`
	Basis       string     `json:"basis"`
	Status      string     `json:"status"`
	Confirmed   bool       `json:"confirmed"`
	Capture     Capture    `json:"capture"`
	Customer    *Customer  `json:"customer,omitempty"`
	Created     time.Time  `json:"created"`
	ConfirmedAt *time.Time `json:"confirmed_at,omitempty"`
	WithdrawnAt *time.Time `json:"withdrawn_at,omitempty"`
}

// ProofSuppress is a suppression in a proof.
type ProofSuppress struct {
	List         string     `json:"list"` // "" for every list.
	Reason       string     `json:"reason"`
	RequestedAt  time.Time  `json:"requested_at"`
	Deadline     time.Time  `json:"deadline"`
	Jurisdiction string     `json:"deadline_jurisdiction"`
	SyncedAt     *time.Time `json:"synced_at,omitempty"`
	LiftedAt     *time.Time `json:"lifted_at,omitempty"`
}

// ProofHead is a log's last event.
type ProofHead struct {
	Seq  int64  `json:"seq"`
	Hash string `json:"hash"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// maxProofEvents bounds a proof: one recipient's history is short; a
// longer one is abuse of the log.
const maxProofEvents = 5000

// ErrProofTooLong is a proof asked for a recipient whose events in the
// sender's log are more than a proof holds: the node signs no partial
// proof.
var ErrProofTooLong = fmt.Errorf("consent: the recipient's history holds more than %d events; the node signs no partial proof", maxProofEvents)

// Proof builds the signed proof of what the node holds about a recipient
// of a sender, on one list or ("") on all.
func (s *Service) Proof(ctx context.Context, sender, recipient, list string) (*Proof, error) {
	sd, err := s.st.Sender(ctx, sender)
	if err != nil {
		return nil, err
	}
	addr, err := NormalizeAddress(recipient)
	if err != nil {
		return nil, err
	}
	if list != "" {
		if list, err = checkList(list); err != nil {
			return nil, err
		}
	}
	h := RecipientHash(s.o.Keys.RecipientKey(sd.ID), addr)
	recs, err := s.Records(ctx, sd.ID, h)
	if err != nil {
		return nil, err
	}
	sups, err := s.st.Suppressed(ctx, sd.ID, h)
	if err != nil {
		return nil, err
	}
	evs, err := s.st.Events(ctx, sd.ID, h, 0, maxProofEvents+1)
	if err != nil {
		return nil, err
	}
	if len(evs) > maxProofEvents {
		// A cut proof would be signed as the whole history: the events
		// left out (an opt-out, a complaint) would vanish under the node's
		// signature, or the records would not verify against the events.
		return nil, ErrProofTooLong
	}
	seq, head, err := s.st.Head(ctx, sd.ID)
	if err != nil {
		return nil, err
	}
	p := ProofPayload{
		Format:   ProofFormat,
		Node:     ProofNode{Name: s.o.NodeName, URL: s.o.BaseURL, Key: base64.StdEncoding.EncodeToString(s.o.Signer.Public().(ed25519.PublicKey))},
		IssuedAt: s.now(),
		Sender: ProofSender{ID: sd.ID, Name: sd.Name, Contact: sd.Contact, Domains: sd.Domains, PostalAddress: sd.PostalAddress,
			Status: sd.Status},
		Recipient: addr, RecipientHash: h, List: list,
		Records: []ProofRecord{}, Suppressions: []ProofSuppress{}, Events: []Event{},
		Head: ProofHead{Seq: seq, Hash: head},
	}
	for _, r := range recs {
		if list != "" && r.List != list {
			continue
		}
		p.Records = append(p.Records, ProofRecord{ID: r.ID, List: r.List, Basis: r.Basis, Status: r.Status, Confirmed: r.Confirmed,
			Capture: r.Capture, Customer: r.Customer, Created: r.Created, ConfirmedAt: timePtr(r.ConfirmedAt), WithdrawnAt: timePtr(r.WithdrawnAt)})
		if r.Status == RecordActive && !p.Summary.ConsentOnRecord {
			p.Summary.ConsentOnRecord, p.Summary.Basis, p.Summary.Confirmed = true, r.Basis, r.Confirmed
		}
	}
	for _, x := range sups {
		if list != "" && x.List != list && x.List != "" {
			continue
		}
		p.Suppressions = append(p.Suppressions, ProofSuppress{List: x.List, Reason: x.Reason, RequestedAt: x.RequestedAt, Deadline: x.Deadline,
			Jurisdiction: x.Jurisdiction, SyncedAt: timePtr(x.SyncedAt), LiftedAt: timePtr(x.LiftedAt)})
	}
	_, p.Summary.OptedOut = SuppressedOn(sups, list)
	for _, e := range evs {
		if list == "" || e.List == list || e.List == "" {
			p.Events = append(p.Events, e)
		}
	}
	p.Summary.Text = summaryText(p)
	return SignProof(p, s.o.Signer)
}

func summaryText(p ProofPayload) string {
	if p.List == "" {
		return summaryAllLists(p)
	}
	scope := "list " + p.List
	switch {
	case p.Summary.ConsentOnRecord && p.Summary.OptedOut:
		return "An active " + p.Summary.Basis + " record and an opt-out both stand for " + scope + ": the opt-out prevails."
	case p.Summary.ConsentOnRecord && p.Summary.Confirmed:
		return "Consent on record for " + scope + ", confirmed by the recipient from the mailed link."
	case p.Summary.ConsentOnRecord:
		return "A " + p.Summary.Basis + " record stands for " + scope + " (not confirmed by the recipient)."
	case p.Summary.OptedOut:
		return "No consent stands for " + scope + ": the recipient opted out."
	case len(p.Records) > 0:
		return "No consent stands for " + scope + " now; see the records for what there was."
	}
	return "This node holds no consent record for this recipient on " + scope + "."
}

// summaryAllLists is the summary of a proof asked for no list: it names
// the lists consent stands for, since a record for one list is consent to
// that list only.
func summaryAllLists(p ProofPayload) string {
	optAll := false
	optedOut := map[string]bool{}
	var optLists []string
	for _, x := range p.Suppressions {
		if x.LiftedAt != nil {
			continue
		}
		if x.List == "" {
			optAll = true
		} else if !optedOut[x.List] {
			optedOut[x.List] = true
			optLists = append(optLists, "list "+x.List)
		}
	}
	var stand, prevailed []string
	seen := map[string]bool{}
	for _, r := range p.Records {
		if r.Status != RecordActive || seen[r.List] {
			continue
		}
		seen[r.List] = true
		if optAll && !proofException(p.Suppressions, r.List) || optedOut[r.List] {
			prevailed = append(prevailed, "list "+r.List)
			continue
		}
		d := "list " + r.List
		if r.Confirmed {
			d += " (confirmed by the recipient from the mailed link)"
		} else {
			d += " (" + r.Basis + ", not confirmed by the recipient)"
		}
		stand = append(stand, d)
	}
	var out []string
	switch {
	case len(stand) > 0:
		out = append(out, "Consent on record for "+joinAnd(stand)+" only.")
	case len(p.Records) == 0 && len(p.Suppressions) == 0:
		return "This node holds no consent record for this recipient on any of the sender's lists."
	default:
		out = append(out, "No consent stands for any of the sender's lists.")
	}
	if len(prevailed) > 0 {
		out = append(out, "Records for "+joinAnd(prevailed)+" are overridden by an opt-out.")
	}
	var again []string
	for _, x := range p.Suppressions {
		if optAll && x.List != "" && proofException(p.Suppressions, x.List) {
			again = append(again, "list "+x.List)
		}
	}
	switch {
	case optAll && len(again) > 0:
		out = append(out, "The recipient opted out of all the sender's mail, and confirmed "+joinAnd(again)+" again since.")
	case optAll:
		out = append(out, "The recipient opted out of all the sender's mail.")
	case len(optLists) > 0:
		out = append(out, "The recipient opted out of "+joinAnd(optLists)+".")
	}
	if len(stand) == 0 && len(prevailed) == 0 && len(p.Records) > 0 {
		out = append(out, "See the records for what there was.")
	}
	return strings.Join(out, " ")
}

// proofException reports whether list was confirmed again after the
// all-lists opt-out in force (its row lifted since): see Exception.
func proofException(sups []ProofSuppress, list string) bool {
	for _, x := range sups {
		if x.List != "" || x.LiftedAt != nil {
			continue
		}
		for _, y := range sups {
			if y.List == list && y.LiftedAt != nil && !y.LiftedAt.Before(x.RequestedAt) {
				return true
			}
		}
	}
	return false
}

func joinAnd(xs []string) string {
	if len(xs) < 2 {
		return strings.Join(xs, "")
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " and " + xs[len(xs)-1]
}

// SignProof signs a payload.
func SignProof(p ProofPayload, key ed25519.PrivateKey) (*Proof, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encode proof: %w", err)
	}
	return &Proof{Payload: b, Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(key, b))}, nil
}

// ProofCheck is the outcome of verifying a proof.
type ProofCheck struct {
	Payload     ProofPayload
	Key         string // The key that signed it (base64).
	Fingerprint string // nodekey.Fingerprint of the key ("SHA256:…").
	Problems    []string
}

// OK reports whether the proof verified.
func (c ProofCheck) OK() bool { return len(c.Problems) == 0 }

// KeyFingerprint is how keys are shown to people: the node's one
// fingerprint format (nodekey.Fingerprint).
func KeyFingerprint(b64 string) string {
	f, err := nodekey.Fingerprint(b64)
	if err != nil {
		return "?"
	}
	return f
}

// maxProofBytes bounds the document VerifyProof reads.
const maxProofBytes = 16 << 20

// VerifyProof checks a proof offline: the signature of the key it names
// over the payload, every event against its chain hash, that the events
// are the sender's and the recipient's, and that the records agree with
// the events. Which key it must be is the caller's question (pin it with
// the node's published key): a forger can sign with a key of their own.
func VerifyProof(r io.Reader) (ProofCheck, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxProofBytes+1))
	if err != nil {
		return ProofCheck{}, fmt.Errorf("read proof: %w", err)
	}
	if len(b) > maxProofBytes {
		return ProofCheck{}, fmt.Errorf("the proof is larger than %d MiB", maxProofBytes>>20)
	}
	// A member named twice reads one way here and another elsewhere; an
	// unknown member is not part of what was signed.
	if err := strictjson.Check(b); err != nil {
		return ProofCheck{}, fmt.Errorf("not a consent proof: %w", err)
	}
	var pr Proof
	top := json.NewDecoder(bytes.NewReader(b))
	top.DisallowUnknownFields()
	if err := top.Decode(&pr); err != nil {
		return ProofCheck{}, fmt.Errorf("not a consent proof: %w", err)
	}
	var c ProofCheck
	dec := json.NewDecoder(bytes.NewReader(pr.Payload))
	dec.DisallowUnknownFields()
	if len(pr.Payload) == 0 || dec.Decode(&c.Payload) != nil {
		return ProofCheck{}, fmt.Errorf("not a consent proof: the payload does not parse")
	}
	p := &c.Payload
	if p.Format != ProofFormat {
		return ProofCheck{}, fmt.Errorf("not a consent proof: format %q, want %q", p.Format, ProofFormat)
	}
	c.Key, c.Fingerprint = p.Node.Key, KeyFingerprint(p.Node.Key)
	var compact bytes.Buffer
	if err := json.Compact(&compact, pr.Payload); err != nil {
		return ProofCheck{}, fmt.Errorf("not a consent proof: %w", err)
	}
	key, err1 := base64.StdEncoding.DecodeString(p.Node.Key)
	sig, err2 := base64.StdEncoding.DecodeString(pr.Signature)
	switch {
	case err1 != nil || len(key) != ed25519.PublicKeySize:
		c.Problems = append(c.Problems, "the node key is not an Ed25519 public key")
	case err2 != nil || !ed25519.Verify(key, compact.Bytes(), sig):
		c.Problems = append(c.Problems, "the signature does not match the payload: the proof was changed after the node signed it, or signed by another key")
	}
	c.Problems = append(c.Problems, VerifyEvents(p.Sender.ID, p.Events, false)...)
	for _, e := range p.Events {
		if e.Recipient != "" && e.Recipient != p.RecipientHash {
			c.Problems = append(c.Problems, fmt.Sprintf("event %d is about another recipient", e.Seq))
		}
		if p.List != "" && e.List != "" && e.List != p.List {
			c.Problems = append(c.Problems, fmt.Sprintf("event %d is about list %s, not %s", e.Seq, e.List, p.List))
		}
		if e.Seq > p.Head.Seq {
			c.Problems = append(c.Problems, fmt.Sprintf("event %d is after the log head %d", e.Seq, p.Head.Seq))
		}
	}
	for _, r := range p.Records {
		has := func(kind string) bool {
			return slices.ContainsFunc(p.Events, func(e Event) bool { return e.Record == r.ID && e.Kind == kind })
		}
		if !has(EventRecorded) {
			c.Problems = append(c.Problems, "record "+r.ID+" has no consent-recorded event")
		}
		if r.Confirmed && !has(EventConfirmed) {
			c.Problems = append(c.Problems, "record "+r.ID+" says confirmed but no consent-confirmed event shows it")
		}
		if r.Status == RecordWithdrawn && !has(EventWithdrawn) {
			c.Problems = append(c.Problems, "record "+r.ID+" says withdrawn but no event shows it")
		}
		if r.Status == RecordActive && has(EventWithdrawn) {
			c.Problems = append(c.Problems, "record "+r.ID+" says active but was withdrawn")
		}
	}
	return c, nil
}
