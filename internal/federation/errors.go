package federation

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Code is the stable reason a node gives a peer for refusing an envelope.
// Until the sender is shown to be an active peer (its signature checked
// first), every refusal is CodeRefused: an outsider learns nothing about
// the node's peers or their keys. The one exception names no peer: an
// envelope sealed for a key this node rotated out is CodeWrongRecipient,
// whoever signed it, before any peer is looked up (another node's
// envelope posted here is CodeRefused, so a copy is no oracle on this
// node's peers). The details go to the log only.
type Code string

const (
	CodeMalformed      Code = "malformed"        // Not an envelope.
	CodeRefused        Code = "refused"          // Not an active peer signing with a valid key.
	CodeWrongRecipient Code = "wrong-recipient"  // Sealed for a key this node rotated out (the sender must update it).
	CodeStale          Code = "stale"            // Its time is outside the accepted window.
	CodeReplay         Code = "replay"           // Its sequence was already received.
	CodeTampered       Code = "tampered"         // The payload is not the one the envelope names.
	CodeBadPackage     Code = "bad-package"      // A package's signature or proofs do not verify.
	CodeBadAssistance  Code = "bad-assistance"   // An assistance message does not fit its request.
	CodeCustody        Code = "custody-mismatch" // The sender's checkpoint is not this node's log of the link.
	CodeBusy           Code = "busy"             // Too many envelopes at once: try again.
	CodeTooLarge       Code = "too-large"        // Over the size an envelope may have.
	CodeSlow           Code = "too-slow"         // Its body came slower than the inbox's minimum pace.
	CodeSuperseded     Code = "superseded"       // Decided under an agreement older than one the sender already used, or set aside by the sender.
	CodeInternal       Code = "internal"         // This node failed; nothing was stored.
)

// Public is the one sentence a peer is told for a code.
func (c Code) Public() string {
	switch c {
	case CodeMalformed:
		return "the request is not a readable envelope"
	case CodeRefused:
		return "the envelope is refused"
	case CodeWrongRecipient:
		return "the envelope is sealed for a key this node rotated out; seal it for the node's current key"
	case CodeStale:
		return "the envelope's time is outside the accepted window"
	case CodeReplay:
		return "this envelope's sequence was already received"
	case CodeTampered:
		return "the payload does not match the envelope"
	case CodeBadPackage:
		return "a package does not verify"
	case CodeBadAssistance:
		return "an assistance message does not fit its request"
	case CodeCustody:
		return "the checkpoint does not match this node's custody log of the link"
	case CodeBusy:
		return "too many envelopes at once; try again shortly"
	case CodeTooLarge:
		return "the envelope is too large"
	case CodeSlow:
		return "the envelope's body came too slowly"
	case CodeSuperseded:
		return "the envelope was decided under an agreement version older than one already received"
	}
	return "the envelope could not be stored; nothing was kept"
}

// Refusal is an envelope this node refused: Code is what the sender is
// told, Err the details for the log.
type Refusal struct {
	Code   Code
	Err    error
	Answer *Answer // For a replay of an envelope already stored: its countersignature.
}

func (r *Refusal) Error() string { return fmt.Sprintf("%s: %v", r.Code, r.Err) }
func (r *Refusal) Unwrap() error { return r.Err }

func refuse(code Code, err error) *Refusal { return &Refusal{Code: code, Err: err} }

// RemoteError is a peer's refusal of what this node sent.
type RemoteError struct {
	Peer   string
	Code   Code
	Answer *Answer // The peer's countersignature when it already holds the envelope.
}

func (e *RemoteError) Error() string {
	msg := fmt.Sprintf("peer %s refused the envelope: %s (%s)", e.Peer, e.Code, e.Code.Public())
	if e.Code == CodeRefused {
		// A node tells nobody whom it knows (Code): its operator's log
		// says why; these are the usual reasons.
		msg += "; the peer gives no reason to a refused sender: it may have suspended or removed this node, or not hold this node's current key (after accord keys rotate, it runs accord peer rotate-key) — ask its operator, whose log says why"
	}
	return msg
}

// SlowError is an envelope the peer did not take in time: its inbox cut
// the body as too slow (ByPeer, with the limits it named), or this node's
// own deadline for the upload passed first. An envelope larger than the
// link carries within the peer's read limit can never arrive: the sender
// must seal smaller ones (Service does, see Sync).
type SlowError struct {
	Peer     string
	Size     int64         // The sealed envelope's bytes.
	Sent     int64         // Bytes the peer had received (ByPeer) or this node had written when it was cut.
	Took     time.Duration // How long the body was read (ByPeer) or written.
	ByPeer   bool
	MaxRead  time.Duration // The peer's longest read of one body, when it said.
	MinRate  int64         // The peer's minimum pace in bytes a second, when it said.
	Envelope uint64        // Its sequence number, when known.
	Cause    error         // Why sending stopped, when the peer did not say (a deadline, a closed connection).
}

// Rate is the pace the body came at, in bytes a second.
func (e *SlowError) Rate() float64 {
	if e.Took <= 0 {
		return 0
	}
	return float64(e.Sent) / e.Took.Seconds()
}

func (e *SlowError) Error() string {
	if !e.ByPeer {
		return fmt.Sprintf("sending the envelope of %s to %s stopped after %s with %s sent (%s/s): %v", bytesOf(e.Size), e.Peer,
			e.Took.Round(time.Second), bytesOf(e.Sent), bytesOf(int64(e.Rate())), e.Cause)
	}
	limit := ""
	if e.MaxRead > 0 && e.Took >= e.MaxRead-time.Second {
		limit = fmt.Sprintf(" at its inbox's limit of %s for one body", e.MaxRead.Round(time.Second))
	} else if e.MinRate > 0 {
		limit = fmt.Sprintf(", below its inbox's minimum pace of %s/s", bytesOf(e.MinRate))
	}
	return fmt.Sprintf("%s cut the envelope of %s as too slow%s: %s arrived in %s (%s/s)", e.Peer, bytesOf(e.Size), limit,
		bytesOf(e.Sent), e.Took.Round(time.Second), bytesOf(int64(e.Rate())))
}

// Unwrap is the peer's refusal when it cut the body, else the cause.
func (e *SlowError) Unwrap() error {
	if e.ByPeer {
		return &RemoteError{Peer: e.Peer, Code: CodeSlow}
	}
	return e.Cause
}

// bytesOf writes a size for people: 512 B, 20 KiB, 3.5 MiB.
func bytesOf(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// Transport carries sealed envelopes to peers. The federation knows no
// HTTP: fedhttp implements it.
type Transport interface {
	// Post delivers a sealed envelope to the inbox of the node at base,
	// with its admission (sent before the body, so the peer can check it
	// first: see Admission), and returns the body of its answer. A
	// refusal is a *RemoteError; any other error means the peer could not
	// be reached or answered nothing readable.
	Post(ctx context.Context, base string, sealed []byte, admission string) ([]byte, error)
}

// ErrNoTransport is returned when the service has no way to reach peers.
var ErrNoTransport = errors.New("federation: no transport to reach peers")
