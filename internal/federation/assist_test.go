package federation

import (
	"fmt"
	"testing"
)

// The state machine is exactly the documented one: every transition in
// this table is allowed, and every other (type, state, action, role) is
// refused — supply-information straight from acknowledged included.
func TestAssistanceStateMachineAsDocumented(t *testing.T) {
	type key struct {
		typ  RequestType
		from State
		act  Action
		by   Role
	}
	allowed := map[key]State{}
	for _, typ := range []RequestType{TypeInformation, TypeEnforcement, TypeAlert} {
		allowed[key{typ, StateSent, ActAcknowledge, Responder}] = StateAcknowledged
	}
	for _, typ := range []RequestType{TypeInformation, TypeEnforcement} {
		allowed[key{typ, StateAcknowledged, ActAccept, Responder}] = StateAccepted
		allowed[key{typ, StateAcknowledged, ActRefuse, Responder}] = StateRefused
		allowed[key{typ, StateRefused, ActClose, Requester}] = StateClosed
	}
	allowed[key{TypeInformation, StateAccepted, ActSupply, Responder}] = StateInformation
	allowed[key{TypeInformation, StateInformation, ActClose, Requester}] = StateClosed
	allowed[key{TypeEnforcement, StateAccepted, ActMeasure, Responder}] = StateMeasure
	allowed[key{TypeEnforcement, StateMeasure, ActClose, Requester}] = StateClosed
	allowed[key{TypeAlert, StateAcknowledged, ActClose, Requester}] = StateClosed

	states := []State{StateSent, StateAcknowledged, StateAccepted, StateRefused, StateInformation, StateMeasure, StateClosed}
	actions := []Action{ActAcknowledge, ActAccept, ActRefuse, ActSupply, ActMeasure, ActClose}
	n := 0
	for _, typ := range []RequestType{TypeInformation, TypeEnforcement, TypeAlert} {
		for _, st := range states {
			for _, a := range actions {
				for _, by := range []Role{Requester, Responder} {
					k := key{typ, st, a, by}
					got, err := Next(&Request{Type: typ, State: st}, a, by)
					want, ok := allowed[k]
					switch {
					case ok && (err != nil || got != want):
						t.Errorf("%v: want %s, got %s %v", k, want, got, err)
					case !ok && err == nil:
						t.Errorf("%v: allowed (→ %s), the documentation does not allow it", k, got)
					}
					n++
				}
			}
		}
	}
	if n != 3*7*6*2 {
		t.Fatal(fmt.Sprint(n))
	}
}
