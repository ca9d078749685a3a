package filter

import (
	"context"
	"fmt"
	"strings"
	"testing"
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
