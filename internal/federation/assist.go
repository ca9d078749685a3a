package federation

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// RequestType is a kind of mutual assistance, after the EU CPC Regulation
// (2017/2394): a request for information (Art. 11), a request for
// enforcement measures (Art. 12), an alert (Art. 26).
type RequestType string

const (
	TypeInformation RequestType = "information"
	TypeEnforcement RequestType = "enforcement"
	TypeAlert       RequestType = "alert"
)

// State of a request.
type State string

const (
	StateSent         State = "sent"
	StateAcknowledged State = "acknowledged"
	StateAccepted     State = "accepted"
	StateRefused      State = "refused"
	StateInformation  State = "information-supplied"
	StateMeasure      State = "measure-taken"
	StateClosed       State = "closed"
)

// Action moves a request from one state to another.
type Action string

const (
	ActCreate      Action = "create"
	ActAcknowledge Action = "acknowledge"
	ActAccept      Action = "accept"
	ActRefuse      Action = "refuse"
	ActSupply      Action = "supply-information"
	ActMeasure     Action = "measure-taken"
	ActClose       Action = "close"
)

// Role in a request: who asked, who was asked.
type Role string

const (
	Requester Role = "requester"
	Responder Role = "responder"
)

// transitions is the state machine, exactly as documented: sent →
// acknowledged (on arrival) → accepted | refused (with its reason) →
// information-supplied (information requests) | measure-taken
// (enforcement requests) → closed by the requester. An alert is
// acknowledged and then closed: it is neither accepted nor refused.
var transitions = map[Action]struct {
	by   Role
	from []State
	to   State
	only RequestType // "" for every type
}{
	ActAcknowledge: {Responder, []State{StateSent}, StateAcknowledged, ""},
	ActAccept:      {Responder, []State{StateAcknowledged}, StateAccepted, ""},
	ActRefuse:      {Responder, []State{StateAcknowledged}, StateRefused, ""},
	ActSupply:      {Responder, []State{StateAccepted}, StateInformation, TypeInformation},
	ActMeasure:     {Responder, []State{StateAccepted}, StateMeasure, TypeEnforcement},
	ActClose:       {Requester, []State{StateRefused, StateInformation, StateMeasure}, StateClosed, ""},
}

// Next returns the state an action leads to, or an error saying why it is
// not allowed.
func Next(r *Request, a Action, by Role) (State, error) {
	t, ok := transitions[a]
	if !ok {
		return "", fmt.Errorf("assistance: unknown action %q", a)
	}
	if t.by != by {
		return "", fmt.Errorf("assistance: only the %s may %s", t.by, a)
	}
	if t.only != "" && r.Type != t.only {
		return "", fmt.Errorf("assistance: %s applies to %s requests, not %s", a, t.only, r.Type)
	}
	if r.Type == TypeAlert {
		switch a {
		case ActAccept, ActRefuse:
			return "", fmt.Errorf("assistance: an alert is acknowledged, not %sed", strings.TrimSuffix(string(a), "e"))
		case ActClose:
			if r.State == StateAcknowledged {
				return StateClosed, nil
			}
			return "", fmt.Errorf("assistance: an alert is closed once acknowledged, not when it is %s", r.State)
		}
	}
	if a == ActClose && (r.State == StateInformation && r.Type != TypeInformation || r.State == StateMeasure && r.Type != TypeEnforcement) {
		return "", fmt.Errorf("assistance: a %s request cannot be %s", r.Type, r.State)
	}
	for _, s := range t.from {
		if r.State == s {
			return t.to, nil
		}
	}
	return "", fmt.Errorf("assistance: cannot %s a request that is %s", a, r.State)
}

// Request is a mutual assistance request as both sides keep it.
type Request struct {
	ID         string
	Peer       string // The other side.
	Role       Role   // This node's role.
	Type       RequestType
	Subject    string
	Body       string
	Campaign   string // Optional: the campaign it concerns.
	LegalBasis string
	Created    time.Time
	Deadline   time.Time // Zero for alerts.
	State      State
	Updated    time.Time
	Events     []Event
}

// Event is one step in a request's history.
type Event struct {
	At     time.Time
	Action Action
	State  State
	By     string // Node (peer name or "self") and, locally, the user.
	Note   string
	// Msg is the message the step went or came as (AssistMsg's JSON),
	// whose hash the link's custody log holds: custody verify checks the
	// step and its request against it. Nil for steps stored before
	// messages were kept.
	Msg []byte
}

// withMsg is e with m as its message.
func (e Event) withMsg(m AssistMsg) Event {
	e.Msg, _ = json.Marshal(m)
	return e
}

// Open reports whether the request still waits for its answer.
func (r *Request) Open() bool {
	switch r.State {
	case StateSent, StateAcknowledged, StateAccepted:
		return true
	}
	return false
}

// Overdue reports whether the answer is late at time now.
func (r *Request) Overdue(now time.Time) bool {
	return r.Open() && !r.Deadline.IsZero() && now.After(r.Deadline)
}

// AssistMsg carries a request's creation or one of its transitions.
type AssistMsg struct {
	RequestID  string      `json:"request_id"`
	Action     Action      `json:"action"`
	Type       RequestType `json:"type,omitempty"`
	Subject    string      `json:"subject,omitempty"`
	Body       string      `json:"body,omitempty"`
	Campaign   string      `json:"campaign,omitempty"`
	LegalBasis string      `json:"legal_basis,omitempty"`
	Deadline   time.Time   `json:"deadline,omitzero"`
	At         time.Time   `json:"at"`
	Note       string      `json:"note,omitempty"`
}

// Hash identifies a message in the custody log.
func (m AssistMsg) Hash() string {
	b, _ := json.Marshal(m)
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// DeadlineFor returns when an answer is due under an agreement.
func DeadlineFor(t RequestType, a *Agreement, from time.Time) time.Time {
	switch t {
	case TypeInformation:
		return from.AddDate(0, 0, a.InformationDeadline())
	case TypeEnforcement:
		return from.AddDate(0, 0, a.EnforcementDeadline())
	}
	return time.Time{}
}

// ValidType checks a request type.
func ValidType(t RequestType) bool {
	return t == TypeInformation || t == TypeEnforcement || t == TypeAlert
}
