package filter

import (
	"context"
	"testing"
)

// A recipient's policy holds for every spelling of their address the MTA
// delivers to them: case, a quoted local part, a sub-address.
func TestPolicyAppliesToAddressVariants(t *testing.T) {
	s, st := newService(t, Deps{}, Config{})
	ctx := context.Background()
	s.PutPolicy(ctx, Policy{Kind: ScopeRecipient, Key: "rej@example.org", Action: ptr(ActionReject), Block: []string{"evil.test"}}, "t")
	for _, rc := range []string{"rej@example.org", "rej+tag@example.org", `"rej"@example.org`, "REJ@Example.ORG", "<rej@example.org.>", "rej+a+b@example.org"} {
		d, err := s.Check(ctx, msg("x@evil.test", "hi", "hello"), Envelope{Rcpts: []string{rc}})
		if err != nil {
			t.Fatal(err)
		}
		if d.Outcome != OutcomeReject || d.Recipients[0].Recipient != "rej@example.org" {
			t.Errorf("%s: %s for %q (%s)", rc, d.Outcome, d.Recipients[0].Recipient, d.Recipients[0].Why)
		}
	}
	// Two spellings of one mailbox: one decision, one held copy.
	s.PutPolicy(ctx, Policy{Kind: ScopeRecipient, Key: "q@example.org", Action: ptr(ActionQuarantine)}, "t")
	d, _ := s.Check(ctx, msg("x@evil.test", "hi", GTUBE), Envelope{Rcpts: []string{"Q@example.org", "q+x@example.org"}})
	if len(d.Recipients) != 1 || d.Recipients[0].Recipient != "q@example.org" || d.Outcome != OutcomeQuarantine {
		t.Fatalf("recipients %+v", d.Recipients)
	}
	s.Quarantine(ctx, d, []string{d.Recipients[0].Recipient})
	if held, _ := st.HeldMessages(ctx, HeldFilter{Recipient: "q@example.org"}); len(held) != 1 {
		t.Errorf("held for q@: %d", len(held))
	}
	// Another delimiter, and none.
	if Mailbox("ana-news@example.org", "-") != "ana@example.org" || Mailbox("ana+news@example.org", "none") != "ana+news@example.org" ||
		Mailbox("x y", "") != "" || Mailbox("+x@example.org", "") != "+x@example.org" {
		t.Error("Mailbox delimiters")
	}
}

// Mail a local user submits (SASL-authenticated) is tagged, never held:
// holding it would send digests of a local user's mail to outside
// recipients.
func TestAuthenticatedSubmissionNotHeld(t *testing.T) {
	s, _ := newService(t, Deps{}, Config{})
	d, _ := s.Check(context.Background(), msg("me@example.org", "hi", GTUBE), Envelope{User: "me", Rcpts: []string{"friend@elsewhere.example"}})
	if d.Outcome != OutcomeSpam {
		t.Errorf("authenticated submission: %s", d.Outcome)
	}
	d, _ = s.Check(context.Background(), msg("x@evil.test", "hi", GTUBE), Envelope{Rcpts: []string{"ana@example.org"}})
	if d.Outcome != OutcomeQuarantine {
		t.Errorf("inbound: %s", d.Outcome)
	}
}
