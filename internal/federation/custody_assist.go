package federation

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// verifyAssistance checks the link's mutual assistance records against
// its custody logs, which hold the hash of every assistance message that
// crossed it: each step of each request (its action, note, and for the
// creation the request's type, subject, body, campaign, legal basis,
// creation time and deadline) must be the message logged — or, for this
// node's steps not yet sent, the message waiting in the outbox — every
// logged message must still have its step, each step must follow from
// the one before by the state machine, on the side whose role may take
// it, and the request's state must be where its steps lead. A request
// whose subject, deadline or state was rewritten, a step deleted or
// changed, a request deleted or moved to another peer, is found.
//
// Steps stored before messages were kept (Event.Msg nil) are checked by
// the message rebuilt from what is stored: this node's steps and every
// creation (its time written in each offset a node could have used);
// the peer's other steps carried a time the receiver never stored, so
// only their action is matched (counted in a note). In each direction
// such a step can only come before every step stored with its message:
// one after is a message removed at rest.
func (s *Service) verifyAssistance(ctx context.Context, p *Peer, logs map[Direction][]LogEntry, rep *CustodyReport) error {
	reqs, err := s.Store.Requests(ctx, p.Name)
	if err != nil {
		return err
	}
	queued, err := s.Store.Outbox(ctx, p.Name)
	if err != nil {
		return err
	}
	problem := func(format string, args ...any) { rep.Problems = append(rep.Problems, fmt.Sprintf(format, args...)) }
	type step struct {
		r    *Request
		n    int
		msg  *AssistMsg // Parsed from Event.Msg; nil for a step stored before messages were kept.
		hash string
		used bool
		dir  Direction // Where its message was found: Out, In, or "queued".
	}
	byHash := map[string]*step{}
	byReq := map[string][]*step{}
	for i := range reqs {
		r := &reqs[i]
		for n, ev := range r.Events {
			st := &step{r: r, n: n}
			if len(ev.Msg) > 0 {
				var m AssistMsg
				if err := json.Unmarshal(ev.Msg, &m); err != nil {
					problem("assistance request %s: step %d (%s) keeps an unreadable message: %v", r.ID, n+1, ev.Action, err)
				} else {
					st.msg, st.hash = &m, m.Hash()
					if prev := byHash[st.hash]; prev != nil {
						problem("assistance request %s: step %d (%s) keeps the message of request %s's step %d (copied at rest)", r.ID, n+1, ev.Action, prev.r.ID, prev.n+1)
					} else {
						byHash[st.hash] = st
					}
					if d := stepDiffers(r, ev, m); d != "" {
						problem("assistance request %s: step %d (%s) is not the message it %s: %s differs (changed at rest)", r.ID, n+1, ev.Action,
							map[bool]string{true: "came as", false: "went as"}[actorRole(ev.Action) != r.Role], d)
					}
				}
			}
			byReq[r.ID] = append(byReq[r.ID], st)
		}
	}
	// ours is whether a step is this node's to take (else the peer's).
	ours := func(st *step) bool { return actorRole(st.r.Events[st.n].Action) == st.r.Role }
	legacyOnly := 0
	for _, dir := range []Direction{Out, In} {
		kept := false // A step matched by its kept message came earlier in this log.
		for _, e := range logs[dir] {
			if e.What != "assist" {
				continue
			}
			id, action, _ := strings.Cut(e.Key, "#")
			if st := byHash[e.Hash]; st != nil && !st.used {
				st.used, st.dir, kept = true, dir, true
				if ours(st) != (dir == Out) {
					problem("assistance request %s: step %d (%s) is logged as %s, but %s", st.r.ID, st.n+1, st.r.Events[st.n].Action,
						map[Direction]string{Out: "sent by this node", In: "received from " + p.Name}[dir],
						map[bool]string{true: "this node's role (" + string(st.r.Role) + ") does not take it", false: "it is this node's to take"}[dir == Out])
				}
				continue
			}
			steps, found := byReq[id]
			if !found {
				problem("assistance request %s: envelope %d %s its %s, but the request is gone (deleted, or moved to another peer)", id, e.Seq,
					map[Direction]string{Out: "sent", In: "brought"}[dir], action)
				continue
			}
			// A step stored before messages were kept, with this action.
			var legacy *step
			for _, st := range steps {
				if !st.used && st.msg == nil && string(st.r.Events[st.n].Action) == action {
					legacy = st
					break
				}
			}
			if legacy == nil {
				problem("assistance request %s: envelope %d %s its %s (message %.16s…), but no stored step is that message (the step was deleted or changed)", id, e.Seq,
					map[Direction]string{Out: "sent", In: "brought"}[dir], action, e.Hash)
				continue
			}
			legacy.used, legacy.dir = true, dir
			if kept {
				problem("assistance request %s: step %d (%s) keeps no message, though a step logged before it in the same direction does (its message was removed at rest)",
					id, legacy.n+1, action)
				continue
			}
			ok, checked := rebuiltMatches(legacy.r, legacy.n, dir, e.Hash)
			switch {
			case !checked:
				legacyOnly++
			case !ok:
				problem("assistance request %s: step %d (%s) is not the message envelope %d logged (its subject, body, deadline, note or time was changed)", id, legacy.n+1, action, e.Seq)
			}
		}
	}
	// This node's steps not yet sent wait in the outbox.
	waiting := map[string]bool{}
	for _, q := range queued {
		waiting[q.Msg.Hash()] = true
		if st := byHash[q.Msg.Hash()]; st != nil && !st.used {
			st.used, st.dir = true, "queued"
			continue
		}
		var legacy *step
		for _, st := range byReq[q.Msg.RequestID] {
			if !st.used && st.msg == nil && st.r.Events[st.n].Action == q.Msg.Action {
				legacy = st
				break
			}
		}
		if legacy != nil {
			legacy.used, legacy.dir = true, "queued"
			continue
		}
		problem("assistance request %s: its %s waits to be sent, but no stored step is that message (the step was deleted or changed)", q.Msg.RequestID, q.Msg.Action)
	}
	unsent := 0
	for i := range reqs {
		r := &reqs[i]
		for _, st := range byReq[r.ID] {
			if st.used {
				continue
			}
			if p.Status == StatusRemoved && ours(st) {
				unsent++ // Its queued message was forgotten with the peer.
				continue
			}
			problem("assistance request %s: step %d (%s, %s) is neither in the link's custody log nor waiting to be sent (added at rest)", r.ID, st.n+1,
				r.Events[st.n].Action, r.Events[st.n].At.UTC().Format(time.RFC3339))
		}
		if len(r.Events) == 0 {
			problem("assistance request %s: it has no steps (its history was deleted)", r.ID)
			continue
		}
		// The state machine, from the creation: each step by the side
		// whose role takes it, and the state it records the one it leads to.
		sim := Request{Type: r.Type}
		for n, ev := range r.Events {
			var next State
			var err error
			if n == 0 {
				if ev.Action != ActCreate {
					err = fmt.Errorf("a request starts with its creation")
				}
				next = StateSent
			} else if ev.Action == ActCreate {
				err = fmt.Errorf("a request is created once")
			} else {
				next, err = Next(&sim, ev.Action, actorRole(ev.Action))
			}
			if err == nil && ev.State != next {
				err = fmt.Errorf("it leads to %s", next)
			}
			if err != nil {
				problem("assistance request %s: step %d (%s → %s) does not follow from the steps before it: %v (changed at rest)", r.ID, n+1, ev.Action, ev.State, err)
				break
			}
			sim.State = next
			st := byReq[r.ID][n]
			switch by := ev.By; {
			case st.dir == In && by != p.Name:
				problem("assistance request %s: step %d (%s) came from %s, but is shown as taken by %q", r.ID, n+1, ev.Action, p.Name, by)
			case (st.dir == Out || st.dir == "queued") && by == p.Name:
				problem("assistance request %s: step %d (%s) was this node's, but is shown as taken by %s", r.ID, n+1, ev.Action, p.Name)
			}
		}
		if sim.State != "" && r.State != sim.State {
			problem("assistance request %s: shown as %s, but its steps lead to %s (changed at rest)", r.ID, r.State, sim.State)
		}
		rep.Steps += len(r.Events)
	}
	if legacyOnly > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d assistance steps by %s were stored before messages were kept: matched by their action, their note is not checked", legacyOnly, p.Name))
	}
	if unsent > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d assistance steps of this node were never sent: %s was removed before its next envelope", unsent, p.Name))
	}
	return nil
}

// actorRole is the role that takes an action.
func actorRole(a Action) Role {
	if a == ActCreate {
		return Requester
	}
	return transitions[a].by
}

// stepDiffers names what of a step (and, for the creation, its request)
// is not what its message says; "" when all agree.
func stepDiffers(r *Request, ev Event, m AssistMsg) string {
	var d []string
	if m.RequestID != r.ID {
		d = append(d, "the request")
	}
	if m.Action != ev.Action {
		d = append(d, "the action")
	}
	if m.Note != ev.Note {
		d = append(d, "the note")
	}
	if m.Action == ActCreate {
		for _, f := range []struct {
			name string
			eq   bool
		}{{"the type", m.Type == r.Type}, {"the subject", m.Subject == r.Subject}, {"the body", m.Body == r.Body}, {"the campaign", m.Campaign == r.Campaign},
			{"the legal basis", m.LegalBasis == r.LegalBasis}, {"the creation time", m.At.Equal(r.Created)}, {"the deadline", m.Deadline.Equal(r.Deadline)}} {
			if !f.eq {
				d = append(d, f.name)
			}
		}
	}
	return strings.Join(d, ", ")
}

// rebuiltMatches rebuilds the message of step n of r, stored before
// messages were kept, and says whether it hashes to the logged hash
// (checked false: it cannot be rebuilt — a peer's step other than the
// creation carried its sender's time, which was not stored). The
// message's times were written in its sender's offset, unknown here:
// every offset a zone uses is tried.
func rebuiltMatches(r *Request, n int, dir Direction, hash string) (ok, checked bool) {
	ev := r.Events[n]
	var m AssistMsg
	switch {
	case ev.Action == ActCreate:
		m = AssistMsg{RequestID: r.ID, Action: ActCreate, Type: r.Type, Subject: r.Subject, Body: r.Body, Campaign: r.Campaign,
			LegalBasis: r.LegalBasis, Deadline: r.Deadline, At: r.Created, Note: ev.Note}
	case dir == Out:
		m = AssistMsg{RequestID: r.ID, Action: ev.Action, At: ev.At, Note: ev.Note}
	default:
		return false, false
	}
	at, deadline := m.At, m.Deadline
	try := func(loc *time.Location) bool {
		m.At = at.In(loc)
		if !deadline.IsZero() {
			m.Deadline = deadline.In(loc)
		}
		return m.Hash() == hash
	}
	if try(time.UTC) || try(time.Local) {
		return true, true
	}
	for off := -12 * 60; off <= 14*60; off += 15 {
		if off != 0 && try(time.FixedZone("", off*60)) {
			return true, true
		}
	}
	return false, true
}
