// Package rules turns what a message shows into facts a person can check —
// is it commercial, is the sender's identity disguised, does it carry a valid
// way to opt out — and judges those facts against each jurisdiction's rules.
//
// The rules themselves are data: one rulebook file per jurisdiction
// (rulebook/*.json, embedded), each rule a citation, a title and a breach
// predicate over named facts in three-valued (Kleene) logic. A predicate that
// is true is a breach, false is compliant, unknown needs context the message
// cannot give (consent, above all, is never visible in a message). Adding a
// jurisdiction, or amending one when the law changes, is a new or edited file
// and no code.
//
// Detection returns facts with the evidence behind them; it does no I/O.
package rules

import (
	"encoding/json"
	"fmt"
)

// Tri is a three-valued truth: true, false or unknown.
type Tri int8

const (
	Unknown Tri = iota
	False
	True
)

// TriOf converts a boolean.
func TriOf(b bool) Tri {
	if b {
		return True
	}
	return False
}

func (t Tri) String() string {
	switch t {
	case True:
		return "true"
	case False:
		return "false"
	}
	return "unknown"
}

// MarshalJSON writes true, false or "unknown".
func (t Tri) MarshalJSON() ([]byte, error) {
	switch t {
	case True:
		return []byte("true"), nil
	case False:
		return []byte("false"), nil
	}
	return []byte(`"unknown"`), nil
}

// UnmarshalJSON reads true, false, "true", "false", "unknown" or null.
func (t *Tri) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "true", `"true"`:
		*t = True
	case "false", `"false"`:
		*t = False
	case "null", `"unknown"`:
		*t = Unknown
	default:
		return fmt.Errorf("rules: %s is not true, false or \"unknown\"", b)
	}
	return nil
}

func (t Tri) not() Tri {
	switch t {
	case True:
		return False
	case False:
		return True
	}
	return Unknown
}

func and(a, b Tri) Tri {
	if a == False || b == False {
		return False
	}
	if a == True && b == True {
		return True
	}
	return Unknown
}

func or(a, b Tri) Tri {
	if a == True || b == True {
		return True
	}
	if a == False && b == False {
		return False
	}
	return Unknown
}

// Fact is one named fact with the evidence behind its value. Heuristic
// says the value rests on patterns in the text or names (offers, opt-out
// wording, look-alike brands) rather than on protocol facts (a DMARC
// result, a header) or a person's statement; a conclusion that reads such
// a fact needs human review.
type Fact struct {
	Value     Tri      `json:"value"`
	Why       []string `json:"why"`
	Heuristic bool     `json:"heuristic"`
}

// Facts are the inputs of rulebook predicates, by name.
type Facts map[string]Fact

var _ json.Marshaler = Tri(0)
