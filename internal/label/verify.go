package label

import (
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/accord-antispam/accord/internal/dnsname"
)

// Statuses of a verification.
const (
	Valid     = "valid"
	Invalid   = "invalid"   // Forged, altered, moved to another message or domain.
	Expired   = "expired"   // Past x=.
	Revoked   = "revoked"   // The issuer's status list revokes it.
	Untrusted = "untrusted" // Signed by a node this verifier does not trust.
	// RevocationUnknown is a genuine label in date whose revocation state
	// is unknown: no status list of its issuer, or only a stale one. It is
	// not Valid: a revoked label must not pass because the list was
	// withheld or an old one replayed.
	RevocationUnknown = "revocation-unknown"
)

// Issuer is a node whose labels a verifier trusts: this node, or a partner
// whose agreement says so.
type Issuer struct {
	Name   string
	Key    ed25519.PublicKey
	Status *Status // The latest verified status list; nil: revocations unknown.
}

// Verifier checks labels against the issuers it trusts. It is safe for
// concurrent use; issuers and their status lists can be replaced while it
// runs.
type Verifier struct {
	mu      sync.RWMutex
	issuers map[string]Issuer
	now     func() time.Time

	// good remembers signatures already verified: a campaign's messages
	// share one label, and the Ed25519 check is most of the cost.
	cmu  sync.Mutex
	good map[string]struct{} // issuer key id + "\x00" + the value
}

// maxGood bounds the signature cache; past it the cache starts over.
const maxGood = 16384

// NewVerifier trusts the given issuers. now is nil for time.Now.
func NewVerifier(now func() time.Time, iss ...Issuer) *Verifier {
	if now == nil {
		now = time.Now
	}
	v := &Verifier{issuers: map[string]Issuer{}, now: now, good: map[string]struct{}{}}
	for _, i := range iss {
		v.SetIssuer(i)
	}
	return v
}

// SetIssuer adds an issuer or replaces it (a new status list).
func (v *Verifier) SetIssuer(i Issuer) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.issuers[KeyID(i.Key)] = i
}

// Retain keeps only the issuers whose key ids are given (a partner whose
// agreement no longer trusts labels is dropped).
func (v *Verifier) Retain(ids map[string]bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for id := range v.issuers {
		if !ids[id] {
			delete(v.issuers, id)
		}
	}
}

// Issuers lists the trusted issuers.
func (v *Verifier) Issuers() []Issuer {
	v.mu.RLock()
	defer v.mu.RUnlock()
	out := make([]Issuer, 0, len(v.issuers))
	for _, i := range v.issuers {
		out = append(out, i)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out
}

// DKIM is one DKIM signature of the message, as verified by the caller.
type DKIM struct {
	Domain string
	Result string // "pass", "fail", "permerror", "temperror", "none" (not verified: offline), "policy" (its key is in testing mode: counts as unsigned).
}

// Input is a message as the verifier needs it.
type Input struct {
	Raw        []byte   // The message, for its body.
	Values     []string // The values of its Accord-Label fields.
	FromDomain string
	DKIM       []DKIM
}

// Result is a label's verification.
type Result struct {
	Status            string    `json:"status"`
	Reason            string    `json:"reason"`
	ID                string    `json:"id,omitempty"`
	Issuer            string    `json:"issuer,omitempty"`     // The trusted issuer's name.
	IssuerKey         string    `json:"issuer_key,omitempty"` // Its key id (n=).
	Sender            string    `json:"sender,omitempty"`
	Domain            string    `json:"domain,omitempty"`
	Expires           time.Time `json:"expires,omitzero"`
	DKIMVerified      bool      `json:"dkim_verified"`      // The d= signature passed; false offline.
	RevocationChecked bool      `json:"revocation_checked"` // A status list of the issuer was consulted.
	StatusStale       bool      `json:"status_stale,omitempty"`
}

// maxLabels bounds the labels read from one message.
const maxLabels = 4

// Verify checks the message's labels and returns the best outcome: a
// valid label if there is one, else the first failure. It returns nil
// when the message carries no label.
func (v *Verifier) Verify(in Input) *Result {
	if len(in.Values) == 0 {
		return nil
	}
	var first *Result
	var body []byte
	hashes := map[string]string{}
	for i, val := range in.Values {
		if i == maxLabels {
			break
		}
		if body == nil {
			body = Body(in.Raw)
		}
		r := v.verifyOne(val, in, body, hashes)
		if r.Status == Valid {
			return r
		}
		if first == nil {
			first = r
		}
	}
	return first
}

func (v *Verifier) verifyOne(val string, in Input, body []byte, hashes map[string]string) *Result {
	l, err := Parse(val)
	if err != nil {
		return &Result{Status: Invalid, Reason: err.Error()}
	}
	r := &Result{ID: l.ID, IssuerKey: l.Issuer, Sender: l.Sender, Domain: l.Domain, Expires: l.Expires}
	v.mu.RLock()
	iss, ok := v.issuers[l.Issuer]
	v.mu.RUnlock()
	if !ok {
		r.Status, r.Reason = Untrusted, "signed by the node whose label key id (n=) is "+l.Issuer+", which this verifier does not trust"
		return r
	}
	r.Issuer = iss.Name
	if !v.signed(l, val, iss.Key) {
		r.Status, r.Reason = Invalid, "the signature does not verify: the label was forged or altered"
		return r
	}
	now := v.now()
	switch {
	case l.Issued.After(now.Add(5 * time.Minute)):
		r.Status, r.Reason = Invalid, "issued in the future ("+l.Issued.Format(time.RFC3339)+")"
		return r
	case now.After(l.Expires):
		r.Status, r.Reason = Expired, "expired on "+l.Expires.Format(time.RFC3339)
		return r
	}
	if !dnsname.SameOrg(l.Domain, in.FromDomain) {
		r.Status, r.Reason = Invalid, fmt.Sprintf("the label is for %s but the message is from %s: moved to another domain", l.Domain, orNone(in.FromDomain))
		return r
	}
	seen, failed, testing := false, "", false
	for _, d := range in.DKIM {
		if !dnsname.Equal(d.Domain, l.Domain) {
			continue
		}
		seen = true
		switch d.Result {
		case "pass":
			r.DKIMVerified = true
		case "policy":
			// A key in testing mode (t=y): RFC 6376 says to treat the
			// message as unsigned, neither verified nor failed.
			testing = true
		case "none", "":
		default:
			failed = d.Result
		}
	}
	switch {
	case !seen:
		r.Status, r.Reason = Invalid, "the message has no DKIM signature by "+l.Domain+": the label was moved to another domain's mail"
		return r
	case !r.DKIMVerified && failed != "":
		r.Status, r.Reason = Invalid, "the DKIM signature by "+l.Domain+" does not verify ("+failed+"): the message was altered or forged"
		return r
	}
	h, ok := hashes[l.Canon]
	if !ok {
		h = BodyHash(body, l.Canon)
		hashes[l.Canon] = h
	}
	if h != l.BodyHash {
		r.Status, r.Reason = Invalid, "the body is not the one labelled: the label was moved to another message, or the message changed"
		return r
	}
	if why := HeaderProblem(in.Raw); why != "" {
		r.Status, r.Reason = Invalid, why+": such a header is never labelled"
		return r
	}
	if HeaderHash(in.Raw) != l.HeadHash {
		r.Status, r.Reason = Invalid, "the From, To, Subject, List-Unsubscribe or MIME fields ("+strings.Join(BoundHeaders, ", ")+") are not the ones labelled: the label was moved to another message or recipient, or the message changed"
		return r
	}
	if iss.Status != nil {
		r.RevocationChecked = true
		r.StatusStale = iss.Status.Stale(now)
		if rev, why := iss.Status.Revoked(l); rev {
			r.Status, r.Reason = Revoked, why
			return r
		}
	}
	what := "issued by " + iss.Name + " for " + l.Sender + " (d=" + l.Domain + ") until " + l.Expires.Format("2006-01-02")
	switch {
	case r.DKIMVerified:
	case testing:
		what += "; the DKIM signature was not verified (its key is in testing mode, t=y)"
	default:
		what += "; the DKIM signature was not verified (no DNS)"
	}
	switch {
	case !r.RevocationChecked:
		r.Status, r.Reason = RevocationUnknown, what+"; but whether it was revoked is unknown: no status list of the issuer"
	case r.StatusStale:
		r.Status, r.Reason = RevocationUnknown, what+"; but whether it was revoked is unknown: the status list of "+
			iss.Status.IssuedAt.Format(time.RFC3339)+" is stale (next update "+iss.Status.NextUpdate.Format(time.RFC3339)+")"
	default:
		r.Status, r.Reason = Valid, what
	}
	return r
}

// signed checks a label's signature, remembering good ones. The key is
// part of the cache key: a key dropped from trust is never answered from
// the cache.
func (v *Verifier) signed(l *Label, val string, key ed25519.PublicKey) bool {
	if v.good == nil { // no cache (benchmarks of the first sight)
		return l.VerifySignature(key)
	}
	k := l.Issuer + "\x00" + val
	v.cmu.Lock()
	_, ok := v.good[k]
	v.cmu.Unlock()
	if ok {
		return true
	}
	if !l.VerifySignature(key) {
		return false
	}
	v.cmu.Lock()
	if len(v.good) >= maxGood {
		v.good = map[string]struct{}{}
	}
	v.good[k] = struct{}{}
	v.cmu.Unlock()
	return true
}

func orNone(s string) string {
	if s == "" {
		return "no single From domain"
	}
	return s
}

// PublicKey decodes a base64 Ed25519 public key (as `accord node key`
// prints it).
func PublicKey(b64 string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("label: %q is not a base64 Ed25519 public key", b64)
	}
	return ed25519.PublicKey(b), nil
}
