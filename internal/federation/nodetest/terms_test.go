package nodetest

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/federation"
)

// TestAbsurdTermsRefused: terms a peer sends are bounded. retention_days
// 9e12 overflowed the expiry into 1714 (the item was purged at once) and a
// negative value meant "never expires"; both, and the like, are refused
// as malformed, and nothing is stored. Sensible terms still go through.
func TestAbsurdTermsRefused(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 11, 3, 10, 5, 0, 0, time.UTC)}
	fr, de := newNode(t, c, "fr", "FR"), newNode(t, c, "de", "DE")
	fr.know(t, de, "DE", frDE6)
	de.know(t, fr, "FR", back)
	post := func(terms federation.Terms) (int, string) {
		link, _ := de.store.Link(ctx, "fr")
		cp := federation.Checkpoint{From: fr.svc.Self(), To: de.pub, Seq: link.InSeq + 1, Root: hex.EncodeToString(federation.Root(nil)), Time: c.Now()}
		cp.SenderSignature = base64.StdEncoding.EncodeToString(ed25519.Sign(fr.svc.Key, cp.Statement()))
		pl, _ := json.Marshal(federation.Payload{Terms: &terms, Checkpoint: cp})
		b, err := federation.Seal(fr.svc.Key, federation.Envelope{Type: federation.TypeSync, To: de.pub, Seq: link.InSeq + 1, Time: c.Now()}, pl)
		if err != nil {
			t.Fatal(err)
		}
		return postRaw(t, de.url, b)
	}
	for _, bad := range []federation.Terms{
		{Agreement: "FR-DE", Version: 6, RetentionDays: 9000000000000},
		{Agreement: "FR-DE", Version: 6, RetentionDays: -1},
		{Agreement: "FR-DE", Version: 6, RetentionDays: 3651},
		{Agreement: "FR-DE", Version: 6, KeepWithdrawnDays: -5},
		{Agreement: "FR-DE", Version: 6, KeepWithdrawnDays: 1 << 40},
		{Agreement: "", Version: 6},
		{Agreement: "FR-DE", Version: 0},
	} {
		if st, code := post(bad); st != http.StatusBadRequest || code != string(federation.CodeMalformed) {
			t.Errorf("terms %+v: %d %s", bad, st, code)
		}
	}
	if link, _ := de.store.Link(ctx, "fr"); link.InSeq != 0 {
		t.Errorf("DE stored an envelope with absurd terms: %+v", link)
	}
	if st, code := post(federation.Terms{Agreement: "FR-DE", Version: 6, RetentionDays: 3650, KeepWithdrawnDays: 30}); st != http.StatusOK {
		t.Errorf("sensible terms: %d %s", st, code)
	}
	// The sender's own agreement is bounded the same way.
	if _, err := federation.ParseAgreement([]byte(frDE6 + "retention_days = 9000000000000\n")); err == nil {
		t.Error("an agreement with retention_days 9e12 was accepted")
	}
}
