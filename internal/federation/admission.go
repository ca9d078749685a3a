package federation

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// An admission is a small signed statement a node sends before an
// envelope's body: who sends (its key), to whom, when, and the SHA-256 of
// the body that follows. The receiver checks it from the request's header
// alone — a signature and a lookup, no body read — so that a known peer
// gets a reserved place to deliver while bodies from anyone else compete
// for the general ones: connections from strangers sending just fast
// enough to keep their reads alive can no longer hold every place. The
// envelope inside the body is still verified in full; the admission only
// decides where the body waits.
//
// It is single use: the body hash of an admitted statement is remembered
// for twice the accepted clock window, so a copy (captured on the way)
// gets no reserved place, and a copy older than the window is stale.

const (
	admissionTag = "accord-admission/1"
	// MaxAdmission bounds the header's length: a longer one is not read.
	MaxAdmission = 1024
)

// ErrAdmission is why an admission gives no reserved place (its text, for
// the log only: the sender is told nothing).
var ErrAdmission = errors.New("federation: admission refused")

// Admitted is a checked admission: the peer it names, and the hash the
// body must have.
type Admitted struct {
	Peer       string
	BodySHA256 string
}

func admissionStatement(from, to string, at time.Time, body string) []byte {
	return []byte(admissionTag + "\n" + from + "\n" + to + "\n" + at.UTC().Format(time.RFC3339Nano) + "\n" + body + "\n")
}

// SignAdmission signs the admission of body for the peer whose key is to.
func SignAdmission(priv ed25519.PrivateKey, to string, body []byte, now time.Time) string {
	sum := sha256.Sum256(body)
	st := admissionStatement(base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey)), to, now, hex.EncodeToString(sum[:]))
	return base64.RawURLEncoding.EncodeToString(st) + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(priv, st))
}

// admission is this node's admission of body for a peer.
func (s *Service) admission(to string, body []byte) string {
	return SignAdmission(s.Key, to, body, s.now())
}

// Admission is a signed admission, checked (CheckAdmission).
type Admission struct {
	From       string // The signer's key.
	Time       time.Time
	BodySHA256 string
}

// CheckAdmission parses an admission and checks what needs no store: its
// form, its signature by the key it names, that it is for self, and its
// time within window of now.
func CheckAdmission(value, self string, now time.Time, window time.Duration) (Admission, error) {
	var a Admission
	if len(value) > MaxAdmission {
		return a, fmt.Errorf("%w: %d bytes", ErrAdmission, len(value))
	}
	st64, sig64, ok := strings.Cut(value, ".")
	st, err1 := base64.RawURLEncoding.DecodeString(st64)
	sig, err2 := base64.RawURLEncoding.DecodeString(sig64)
	if !ok || err1 != nil || err2 != nil {
		return a, fmt.Errorf("%w: malformed", ErrAdmission)
	}
	f := strings.Split(string(st), "\n")
	if len(f) != 6 || f[0] != admissionTag || f[5] != "" || len(f[4]) != 64 {
		return a, fmt.Errorf("%w: malformed statement", ErrAdmission)
	}
	if _, err := hex.DecodeString(f[4]); err != nil || strings.ToLower(f[4]) != f[4] {
		// Lower case only, as SignAdmission writes it: an upper-case hash
		// was admitted, then never matched the body (always "tampered"),
		// and its single use was keyed by a second spelling.
		return a, fmt.Errorf("%w: malformed body hash (64 lower-case hex digits)", ErrAdmission)
	}
	pub, err := ParsePublicKey(f[1])
	if err != nil {
		return a, fmt.Errorf("%w: sender key: %v", ErrAdmission, err)
	}
	if !ed25519.Verify(pub, st, sig) {
		return a, fmt.Errorf("%w: bad signature", ErrAdmission)
	}
	if f[2] != self {
		return a, fmt.Errorf("%w: for another node", ErrAdmission)
	}
	at, err := time.Parse(time.RFC3339Nano, f[3])
	if err != nil {
		return a, fmt.Errorf("%w: malformed time", ErrAdmission)
	}
	if d := now.Sub(at); d > window || d < -window {
		return a, fmt.Errorf("%w: time %s outside the window", ErrAdmission, at.UTC().Format(time.RFC3339))
	}
	return Admission{From: f[1], Time: at, BodySHA256: f[4]}, nil
}

// Admit checks an admission: CheckAdmission, then the key it names the
// current key of an active peer, and the admission not seen before. It
// reveals nothing to the sender; the error says why, for the log.
func (s *Service) Admit(ctx context.Context, value string) (*Admitted, error) {
	window := s.Window
	if window <= 0 {
		window = 10 * time.Minute
	}
	now := s.now()
	a, err := CheckAdmission(value, s.Self(), now, window)
	if err != nil {
		return nil, err
	}
	p, err := s.Store.PeerByKey(ctx, a.From)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrAdmission, err)
	}
	if cur, ok := p.ActiveKey(); !ok || cur != a.From {
		return nil, fmt.Errorf("%w: not %s's current key", ErrAdmission, p.Name)
	}
	if p.Status != StatusActive {
		return nil, fmt.Errorf("%w: %s is %s", ErrAdmission, p.Name, p.Status)
	}
	if !s.firstAdmission(a.BodySHA256, now, 2*window) {
		return nil, fmt.Errorf("%w: %s's admission of body %.16s… was used already (a copy)", ErrAdmission, p.Name, a.BodySHA256)
	}
	return &Admitted{Peer: p.Name, BodySHA256: a.BodySHA256}, nil
}

// firstAdmission records an admitted body hash (or another single-use
// key: a status query's, see answerStatus), and says whether it is the
// first time within keep. Only statements signed by a peer's current
// key get here, so the set grows with what peers send; what is older
// than keep leaves from the front of the queue, in the order admitted —
// each admission costs the same however many are remembered, under a
// lock of its own (a full scan under the service's lock made every
// admission slower as a peer sent more, and held up every exchange).
func (s *Service) firstAdmission(body string, now time.Time, keep time.Duration) bool {
	s.admMu.Lock()
	defer s.admMu.Unlock()
	if s.admitted == nil {
		s.admitted = map[string]time.Time{}
	}
	n := 0
	for n < len(s.admOrder) && now.Sub(s.admOrder[n].at) > keep {
		if e := s.admOrder[n]; s.admitted[e.body].Equal(e.at) {
			delete(s.admitted, e.body)
		}
		n++
	}
	// The front is dropped by reslicing; append copies what is left to
	// a new array when the old one fills.
	s.admOrder = s.admOrder[n:]
	if _, seen := s.admitted[body]; seen {
		return false
	}
	// A clock set back would admit out of order: the queue stays in
	// order (an entry is never older than the one before it), so such an
	// admission is kept a little longer, never dropped early.
	at := now
	if l := len(s.admOrder); l > 0 && at.Before(s.admOrder[l-1].at) {
		at = s.admOrder[l-1].at
	}
	s.admitted[body] = at
	s.admOrder = append(s.admOrder, admittedAt{body, at})
	return true
}
