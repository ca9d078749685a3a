package filter

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/mail"
)

// TestReleaseMark: a released message carries the node's mark, and when
// it comes back through a door (the relay is the MTA that runs the
// milter) it is delivered, not held again; the held message is "queued"
// until the outbound queue reports delivery. A mark copied onto another
// body, sent to another recipient, expired or signed with another
// secret counts for nothing: the message is scanned and held.
func TestReleaseMark(t *testing.T) {
	now := time.Unix(1800000000, 0)
	clock := func() time.Time { return now }
	out := &fakeOut{queue: true}
	s, st := newService(t, Deps{Outbound: out, Now: clock}, Config{})
	ctx := context.Background()
	s.PutPolicy(ctx, Policy{Kind: ScopeDomain, Key: "example.org", Action: ptr(ActionQuarantine)}, "test")
	raw := msg("s@x.example", "test", "a deployment test "+GTUBE)
	env := Envelope{MailFrom: "s@x.example", Rcpts: []string{"ana@example.org"}}
	d, _ := s.Check(ctx, raw, env)
	if d.Outcome != OutcomeQuarantine {
		t.Fatalf("GTUBE: outcome %s", d.Outcome)
	}
	ids, _ := s.Quarantine(ctx, d, []string{"ana@example.org"})
	state, err := s.Release(ctx, Actor{Label: "user:ana", Mailbox: "ana@example.org"}, ids[0])
	if err != nil || state != StateQueued {
		t.Fatalf("release: %q %v, want queued", state, err)
	}
	if h, _ := st.HeldMessage(ctx, ids[0]); h.State != StateQueued {
		t.Errorf("held state %s while the mail waits in the queue, want queued", h.State)
	}
	_, released, _ := strings.Cut(out.sent[0], "|")
	if !strings.HasPrefix(released, ReleaseField+": v=1; q="+ids[0]+"; r=ana@example.org; ") {
		t.Fatalf("the released copy has no mark:\n%.300s", released)
	}
	// Back through the filter, as the relay's milter would pass it.
	d, _ = s.Check(ctx, []byte(released), env)
	if d.Released == nil || d.Released.ID != ids[0] || d.Outcome != OutcomeHam || d.Recipients[0].Outcome != OutcomeHam {
		t.Fatalf("the node's own release was not recognised: %+v", d)
	}
	// The header names the held message, not who released it: the
	// mark does not say (the recipient, an administrator's CLI or a
	// digest link, which anyone holding it can use; the audit log has
	// the actor). Before, it said "by its recipient" whoever it was.
	if h := s.Headers(d, d.Outcome); len(h) != 1 || !strings.HasPrefix(h[0].Value, "released: "+ids[0]) || byWhom.MatchString(h[0].Value) ||
		byWhom.MatchString(d.Recipients[0].Why) {
		t.Errorf("headers of a release: %+v (why %q)", h, d.Recipients[0].Why)
	}
	// CRLF turned into LF and the final newline lost on the way: still ours.
	lf := bytes.TrimRight(bytes.ReplaceAll([]byte(released), []byte("\r\n"), []byte("\n")), "\n")
	if d, _ := s.Check(ctx, lf, env); d.Released == nil {
		t.Error("a release with LF line ends was not recognised")
	}
	// Its recipient named in another spelling of the mailbox (the node's
	// normalisation): still the release.
	for _, rc := range []string{"<Ana@Example.ORG>", "ana+news@example.org", "ana@example.org."} {
		if d, _ := s.Check(ctx, []byte(released), Envelope{Rcpts: []string{rc}}); d.Released == nil {
			t.Errorf("a release to %s was not recognised", rc)
		}
	}
	if d, _ := s.Check(ctx, []byte(released), Envelope{DeliverTo: "ana@example.org"}); d.Released == nil {
		t.Error("a release named by Deliver-To (spamd -u ana@example.org) was not recognised")
	}
	held := func(name string, raw []byte, env Envelope) {
		t.Helper()
		d, _ := s.Check(ctx, raw, env)
		if d.Released != nil || d.Outcome != OutcomeQuarantine {
			t.Errorf("%s: released=%v outcome %s, want the message scanned and held", name, d.Released, d.Outcome)
		}
	}
	// A door that names no recipient (attack review 26, A5: spamd without
	// User or with a bare "-u bob", rspamd without Rcpt) proves nothing:
	// the release mark passed the message unscanned to every user of such
	// a door. It is scanned (with no recipient: tagged, never held).
	for name, env := range map[string]Envelope{"no recipient": {}, "a bare local name": {Rcpts: []string{"bob"}}, "an empty recipient": {Rcpts: []string{""}}} {
		if d, _ := s.Check(ctx, []byte(released), env); d.Released != nil || d.Outcome != OutcomeSpam {
			t.Errorf("%s: released=%v outcome %s, want the message scanned and tagged", name, d.Released, d.Outcome)
		}
	}
	held("another recipient by Deliver-To", []byte(released), Envelope{DeliverTo: "bob@example.org"})
	mark := released[:strings.Index(released, "\r\n")+2]
	held("mark copied onto another body", append([]byte(mark), msg("s@x.example", "other", "another spam "+GTUBE)...), env)
	held("another recipient", []byte(released), Envelope{Rcpts: []string{"bob@example.org"}})
	held("one more recipient", []byte(released), Envelope{Rcpts: []string{"ana@example.org", "bob@example.org"}})
	held("recipient in the mark changed", []byte(strings.Replace(released, "r=ana@example.org", "r=bob@example.org", 1)), Envelope{Rcpts: []string{"bob@example.org"}})
	held("expiry moved", []byte(strings.Replace(released, "; x=", "; x=9", 1)), env)
	other, _ := newService(t, Deps{Now: clock, Secret: []byte("another node")}, Config{})
	other.PutPolicy(ctx, Policy{Kind: ScopeDomain, Key: "example.org", Action: ptr(ActionQuarantine)}, "test")
	if d, _ := other.Check(ctx, []byte(released), env); d.Released != nil {
		t.Error("another node's secret verified the mark")
	}
	now = now.Add(8 * 24 * time.Hour)
	held("expired mark", []byte(released), env)
	now = now.Add(-8 * 24 * time.Hour)

	// The outbound queue reports: sent → released.
	if err := s.ReleaseDone(ctx, ids[0], true, ""); err != nil {
		t.Fatal(err)
	}
	if h, _ := st.HeldMessage(ctx, ids[0]); h.State != StateReleased || h.ActedBy != "outbound" {
		t.Errorf("after delivery: %s by %s", h.State, h.ActedBy)
	}
	// A release the relay refused for good is held again, to be released later.
	d, _ = s.Check(ctx, msg("s@x.example", "two", "second "+GTUBE), env)
	ids, _ = s.Quarantine(ctx, d, []string{"ana@example.org"})
	if st, _ := s.Release(ctx, Actor{Admin: true, Label: "cli"}, ids[0]); st != StateQueued {
		t.Fatal(st)
	}
	s.ReleaseDone(ctx, ids[0], false, "550 no such user")
	if h, _ := st.HeldMessage(ctx, ids[0]); h.State != StateHeld {
		t.Errorf("after a failed delivery: %s, want held", h.State)
	}
}

// Release marks arrive from anyone on the internet: no panic, and no
// message the node did not release (with this secret) passes as released.
func FuzzReleaseMark(f *testing.F) {
	now := time.Unix(1800000000, 0)
	s, _ := newService(f, Deps{Now: func() time.Time { return now }}, Config{})
	h := Held{ID: "q-abc", Recipient: "ana@example.org", Raw: []byte("From: a@b.example\r\nSubject: x\r\n\r\nbody\r\n")}
	good := s.markRelease(h)
	f.Add(good)
	f.Add([]byte("X-Accord-Release: v=1; q=q-abc; r=ana@example.org; x=1800000001; s=AAAA\r\n\r\nbody"))
	f.Add([]byte("x-accord-release:\r\n\tv=1;;;=;\n\nbody"))
	f.Add([]byte("X-Accord-Release: v=1; q=; r=; x=-1; s=\n"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		rel := s.verifyRelease(raw, Envelope{})
		if rel == nil {
			return
		}
		// Only a body the node signed verifies: the fuzzer may reorder or
		// refold the header, never change the body or the signed fields.
		_, body := mail.SplitHeader(raw)
		_, goodBody := mail.SplitHeader(good)
		if !bytes.Equal(mail.CanonicalBody(body), mail.CanonicalBody(goodBody)) || rel.ID != "q-abc" || rel.Recipient != "ana@example.org" {
			t.Fatalf("%q verified as a release of %+v", raw, rel)
		}
	})
}

// byWhom finds a claim of who did something ("by its recipient").
var byWhom = regexp.MustCompile(`(?i)\bby\b`)

// directOut delivers at once (no queue): a release is "released" then.
type directOut struct{}

func (directOut) Deliver(context.Context, string, string, []string, []byte) (bool, error) {
	return false, nil
}

// A deleted, reported or released message's bytes are erased at once:
// no read serves them (before, they stayed readable until the hourly
// purge, trial 26 T7); another recipient's copy of the same bytes is
// still whole, and the rows with their decisions stay until the purge.
func TestDeletedAndReleasedBytesGone(t *testing.T) {
	ctx := context.Background()
	s, st := newService(t, Deps{Outbound: directOut{}}, Config{})
	s.PutPolicy(ctx, Policy{Kind: ScopeDefault, Action: ptr(ActionQuarantine)}, "t")
	rcpts := []string{"ana@example.org", "bob@example.org", "carl@example.org", "dora@example.org"}
	d, _ := s.Check(ctx, msg("x@y.example", "held", GTUBE), Envelope{Rcpts: rcpts})
	ids, err := s.Quarantine(ctx, d, rcpts)
	if err != nil || len(ids) != 4 {
		t.Fatal(ids, err)
	}
	admin := Actor{Label: "cli", Admin: true}
	if err := s.Delete(ctx, admin, ids[0]); err != nil {
		t.Fatal(err)
	}
	if err := s.Reported(ctx, Actor{Label: "user:bob", Mailbox: "bob@example.org"}, ids[1], "complaint c-1"); err != nil {
		t.Fatal(err)
	}
	if st, err := s.Release(ctx, admin, ids[2]); err != nil || st != StateReleased {
		t.Fatal(st, err)
	}
	for i, id := range ids {
		h, err := s.Show(ctx, admin, id)
		if err != nil {
			t.Fatal(err)
		}
		stored, _ := st.HeldMessage(ctx, id)
		if gone := i < 3; gone != (len(h.Raw) == 0) || gone != (len(stored.Raw) == 0) {
			t.Errorf("%s (%s): %d bytes served, %d stored", id, h.State, len(h.Raw), len(stored.Raw))
		}
	}
	if n, _, total, _ := st.HeldUsage(ctx, "dora@example.org"); n != 1 || total == 0 {
		t.Errorf("dora's copy: %d held, %d bytes stored", n, total)
	}
	s.Delete(ctx, admin, ids[3])
	if _, _, total, _ := st.HeldUsage(ctx, "dora@example.org"); total != 0 {
		t.Errorf("after the last copy was deleted, %d bytes stored", total)
	}
}
