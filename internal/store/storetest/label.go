package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/label"
)

func labels(t *testing.T, s Store) {
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	for i, id := range []string{"l1", "l2", "l3"} {
		if err := s.AddLabel(ctx, label.Issued{ID: id, Sender: "shop.example", Domain: "shop.example", BodyHash: "bh" + id,
			Issued: t0.Add(time.Duration(i) * time.Hour), Expires: t0.Add(time.Duration(i)*time.Hour + 7*24*time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddLabel(ctx, label.Issued{ID: "l1", Sender: "x", Issued: t0, Expires: t0.Add(time.Hour)}); err == nil {
		t.Error("a label id was issued twice")
	}
	if err := s.RevokeLabel(ctx, "l2", t0.Add(2*time.Hour), "sent to a bought list"); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeLabel(ctx, "l2", t0.Add(3*time.Hour), "again"); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeLabel(ctx, "nope", t0, ""); !errors.Is(err, label.ErrNotFound) {
		t.Errorf("revoke unknown: %v", err)
	}
	if err := s.RevokeSenderLabels(ctx, "other.example", t0.Add(time.Hour), "suspended"); err != nil {
		t.Fatal(err)
	}
	ls, ss, err := s.Revocations(ctx, t0.Add(4*time.Hour), 90*24*time.Hour)
	if err != nil || len(ls) != 1 || ls[0].ID != "l2" || ls[0].Reason != "sent to a bought list" || !ls[0].At.Equal(t0.Add(2*time.Hour)) ||
		len(ss) != 1 || ss[0].Sender != "other.example" {
		t.Fatalf("revocations: %+v %+v %v", ls, ss, err)
	}
	// Once the label has expired, the list no longer needs to carry it.
	if ls, _, _ := s.Revocations(ctx, t0.Add(8*24*time.Hour), 90*24*time.Hour); len(ls) != 0 {
		t.Errorf("expired revoked label still listed: %+v", ls)
	}
	if _, ss, _ := s.Revocations(ctx, t0.Add(100*24*time.Hour), 90*24*time.Hour); len(ss) != 0 {
		t.Errorf("old sender revocation still listed: %+v", ss)
	}
	got, err := s.IssuedLabels(ctx, "shop.example", 10)
	if err != nil || len(got) != 3 || got[0].ID != "l3" || got[1].RevokedAt.IsZero() || !got[0].RevokedAt.IsZero() {
		t.Errorf("issued: %+v %v", got, err)
	}
}
