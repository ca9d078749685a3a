package filter

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/intel"
)

// One message held for fifty recipients is stored once; a recipient over
// the quota gets it delivered tagged instead (Decision.NotHeld), and over
// the total nobody holds it.
func TestQuarantineStoredOnceWithQuotas(t *testing.T) {
	s, st := newService(t, Deps{}, Config{QuarantineMaxPerRecipient: 2, QuarantineMaxBytes: 3 << 20})
	ctx := context.Background()
	big := msg("x@evil.test", "big", GTUBE+"\r\n"+strings.Repeat("filler text line\r\n", 60000)) // ~1 MiB
	var rcpts []string
	for i := 0; i < 50; i++ {
		rcpts = append(rcpts, fmt.Sprintf("u%d@example.org", i))
	}
	d, err := s.Check(ctx, big, Envelope{Rcpts: rcpts})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := s.Quarantine(ctx, d, rcpts)
	if err != nil || len(ids) != 50 || len(d.NotHeld) != 0 {
		t.Fatalf("held %d, not held %v: %v", len(ids), d.NotHeld, err)
	}
	if _, _, total, _ := st.HeldUsage(ctx, "u0@example.org"); total != int64(len(big)) {
		t.Errorf("stored %d bytes for 50 recipients, want %d (once)", total, len(big))
	}
	// u0 holds one; a second is fine, a third is over the per-recipient count.
	for i, want := range []int{0, 1} {
		d, _ := s.Check(ctx, msg("x@evil.test", fmt.Sprint("again ", i), GTUBE), Envelope{Rcpts: []string{"u0@example.org"}})
		s.Quarantine(ctx, d, []string{"u0@example.org"})
		if len(d.NotHeld) != want {
			t.Errorf("hold %d for u0: not held %v", i+2, d.NotHeld)
		}
	}
	// Over the total (3 MiB): three more distinct 1 MiB messages fill it.
	over := 0
	for i := 0; i < 3; i++ {
		m := msg("x@evil.test", fmt.Sprint("fill ", i), GTUBE+"\r\n"+strings.Repeat(fmt.Sprintf("filler %d line\r\n", i), 60000))
		d, _ := s.Check(ctx, m, Envelope{Rcpts: []string{"v@example.org", "w@example.org"}})
		s.Quarantine(ctx, d, []string{"v@example.org", "w@example.org"})
		if len(d.NotHeld) == 2 {
			over++
		}
	}
	if over == 0 {
		t.Error("the total quota never refused a message")
	}
}

// A mailbox owner sees TLP:CLEAR and GREEN evidence in full, but not the
// partner, agreement or indicator of evidence shared under TLP:AMBER or
// RED: it is one anonymous symbol, as in the headers. An administrator
// sees it all.
func TestHeldTLPRedactedForOwner(t *testing.T) {
	s, _ := newService(t, Deps{}, Config{})
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	set, _ := intel.NewSet([]intel.Indicator{
		{Type: intel.SenderDom, Value: "evil.test", Source: intel.Source{Kind: "partner", ID: "k1", Partner: "authority-b", Agreement: "agr-7", TLP: "red"}, Expires: exp},
		{Type: intel.LinkDomain, Value: "evil.test", Source: intel.Source{Kind: "partner", ID: "k2", Partner: "authority-c", Agreement: "agr-8", TLP: "green"}, Expires: exp},
	}, time.Now())
	s.SetIntel(set)
	s.PutPolicy(ctx, Policy{Kind: ScopeRecipient, Key: "ana@example.org", Action: ptr(ActionQuarantine), Spam: ptr(-50.0)}, "t")
	d, _ := s.Check(ctx, msg("x@evil.test", "hi", "see http://evil.test/x"), Envelope{Rcpts: []string{"ana@example.org"}})
	ids, err := s.Quarantine(ctx, d, []string{"ana@example.org"})
	if err != nil || len(ids) != 1 {
		t.Fatal(ids, err)
	}
	check := func(what string, syms []Symbol, admin bool) {
		t.Helper()
		all := fmt.Sprint(syms)
		if strings.Contains(all, "authority-b") || strings.Contains(all, "agr-7") || strings.Contains(all, "RED") {
			if !admin {
				t.Errorf("%s: the owner sees TLP:RED details: %s", what, all)
			}
		} else if admin {
			t.Errorf("%s: the administrator lost the details: %s", what, all)
		}
		if !admin && (!strings.Contains(all, "ACCORD_INTEL_RESTRICTED") || !strings.Contains(all, "authority-c")) {
			t.Errorf("%s: %s", what, all)
		}
	}
	owner := Actor{Label: "user:ana", Mailbox: "ana@example.org"}
	h, _ := s.Show(ctx, owner, ids[0])
	check("show", h.Symbols, false)
	l, _ := s.List(ctx, owner, HeldFilter{})
	check("list", l[0].Symbols, false)
	h, _ = s.Show(ctx, Actor{Label: "cli", Admin: true}, ids[0])
	check("admin", h.Symbols, true)
}
