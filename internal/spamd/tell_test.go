package spamd

import (
	"fmt"
	"strings"
	"testing"
)

// TELL answers DidSet only when it learned something now: the same
// message learned twice as ham gets none the second time (spamc -L then
// says "already un/learned", as true), the other class corrects it
// (DidSet again), and non-mail is EX_DATAERR (trial 26 T11).
func TestTellSaysWhatItLearned(t *testing.T) {
	addr, _ := start(t, true)
	msg := message("library", "the book you reserved is ready")
	tell := func(class string, body []byte) string {
		return raw(t, addr, fmt.Sprintf("TELL SPAMC/1.5\r\nMessage-class: %s\r\nSet: local\r\nContent-length: %d\r\n\r\n%s", class, len(body), body))
	}
	for i, c := range []struct {
		class  string
		didSet bool
	}{{"ham", true}, {"ham", false}, {"spam", true}} {
		out := tell(c.class, msg)
		if !strings.Contains(out, " 0 EX_OK") || strings.Contains(out, "DidSet: local") != c.didSet {
			t.Errorf("TELL %d (%s): %q, want DidSet %v", i+1, c.class, out, c.didSet)
		}
	}
	if out := tell("spam", []byte("garbage\x00\x01")); !strings.Contains(out, "EX_DATAERR") || strings.Contains(out, "DidSet") {
		t.Errorf("TELL of non-mail: %q", out)
	}
}
