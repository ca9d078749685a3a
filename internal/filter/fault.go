package filter

import (
	"context"
	"fmt"
	"runtime/debug"
)

// Guarded is Check for a door. A fault in the decision (a panic in the
// filter's or the engine's code) is recovered (Recovered) instead of
// stopping the process with every connection of every door: the message
// gets a decision skipped as SkippedError (Failed), which the door
// answers as it answers a timed-out one — passed with a header, or a
// temporary failure when so configured (TimedOut).
func (s *Service) Guarded(ctx context.Context, door string, raw []byte, env Envelope) (d *Decision, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.Recovered(door, p)
			d, err = s.Failed(env), nil
		}
	}()
	return s.Check(ctx, raw, env)
}

// Failed is the decision on a message whose decision failed (a fault a
// door recovered): nothing of the message is read again — skipped as
// SkippedError, each recipient's copy delivered with a header, or
// tempfailed (TimedOut), under a reference of its own for the log.
func (s *Service) Failed(env Envelope) *Decision {
	d := &Decision{Reference: newRef(), env: env, Skipped: SkippedError}
	func() {
		defer func() {
			// The policies themselves at fault: every recipient as sent.
			if p := recover(); p != nil {
				s.Recovered("policies", p)
				d.Recipients, d.Outcome = nil, OutcomeHam
				for _, r := range env.Rcpts {
					d.Recipients = append(d.Recipients, RecipientDecision{Recipient: r, Outcome: OutcomeHam, Why: "not scanned: " + SkippedError})
				}
			}
		}()
		s.recipients(d)
	}()
	s.logDecision(d)
	return d
}

// Recovered logs a fault a door recovered from (the value the panic
// carried and the stack where it happened, at ERROR; never the message)
// and counts it (Deps.OnPanic).
func (s *Service) Recovered(door string, p any) {
	s.log.Error("filter: fault recovered; the message is passed or tempfailed as configured (tempfail_on_timeout)",
		"door", door, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	if s.onPanic != nil {
		s.onPanic(door)
	}
}
