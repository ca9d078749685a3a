package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/access"
)

// accounts: tokens are listed without their hashes and refused once
// revoked; a taken user name is refused; passwords, disabling and removal
// end the user's sessions; the audit log keeps events in order.
func accounts(t *testing.T, s Store) {
	ctx := context.Background()
	p1, t1 := access.NewToken(nil, access.Reporter, "scanner", clock)
	_, t2 := access.NewToken(nil, access.Peer, "peer-fr", clock.Add(time.Second))
	s.CreateToken(ctx, t1)
	s.CreateToken(ctx, t2)
	if err := s.TokenUsed(ctx, t1.ID, clock.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	list, err := s.Tokens(ctx)
	if err != nil || len(list) != 2 || list[0].ID != t1.ID || list[0].Hash != "" || !list[0].LastUsedAt.Equal(clock.Add(time.Minute)) || list[1].Role != access.Peer {
		t.Fatalf("tokens: %+v %v", list, err)
	}
	if err := s.RevokeToken(ctx, t1.ID, clock.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.TokenByHash(ctx, access.Hash(p1)); !errors.Is(err, access.ErrNotFound) {
		t.Fatalf("a revoked token still works: %v", err)
	}
	if err := s.RevokeToken(ctx, t1.ID, clock); !errors.Is(err, access.ErrNotFound) {
		t.Fatalf("revoking twice: %v", err)
	}
	if err := s.RevokeToken(ctx, "nope", clock); !errors.Is(err, access.ErrNotFound) {
		t.Fatalf("revoking an unknown token: %v", err)
	}
	list, _ = s.Tokens(ctx)
	if !list[0].RevokedAt.Equal(clock.Add(time.Hour)) {
		t.Fatalf("revocation not listed: %+v", list[0])
	}

	h1, _ := access.HashPassword("first password here")
	h2, _ := access.HashPassword("second password here")
	if err := s.CreateUser(ctx, access.User{Name: "ana", PasswordHash: h1, Role: access.Analyst, CreatedAt: clock}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, access.User{Name: "ana", PasswordHash: h2, Role: access.Admin, CreatedAt: clock}); !errors.Is(err, access.ErrExists) {
		t.Fatalf("a taken name: %v", err)
	}
	if u, _ := s.UserByName(ctx, "ana"); !access.CheckPassword(u.PasswordHash, "first password here") || u.Role != access.Analyst {
		t.Fatal("a second user add overwrote the account")
	}
	session := func(n int) string {
		h := access.Hash(fmt.Sprint("cookie", n))
		s.CreateSession(ctx, access.Session{Hash: h, User: "ana", CSRF: "c", ExpiresAt: clock.Add(time.Hour)})
		return h
	}
	gone := func(h, after string) {
		if _, err := s.SessionByHash(ctx, h); !errors.Is(err, access.ErrNotFound) {
			t.Fatalf("session survived %s", after)
		}
	}
	se := session(1)
	if err := s.SetPassword(ctx, "ana", h2); err != nil {
		t.Fatal(err)
	}
	gone(se, "a password change")
	if u, _ := s.UserByName(ctx, "ana"); !access.CheckPassword(u.PasswordHash, "second password here") {
		t.Fatal("password not changed")
	}
	se = session(2)
	if err := s.DisableUser(ctx, "ana", clock.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	gone(se, "disabling")
	if u, _ := s.UserByName(ctx, "ana"); !u.Disabled() {
		t.Fatal("not disabled")
	}
	s.DisableUser(ctx, "ana", time.Time{})
	users, _ := s.Users(ctx)
	if len(users) != 1 || users[0].Disabled() || users[0].PasswordHash != "" {
		t.Fatalf("users: %+v", users)
	}
	se = session(3)
	if err := s.RemoveUser(ctx, "ana"); err != nil {
		t.Fatal(err)
	}
	gone(se, "removal")
	for _, err := range []error{s.RemoveUser(ctx, "ana"), s.SetPassword(ctx, "ana", h1), s.DisableUser(ctx, "ghost", clock)} {
		if !errors.Is(err, access.ErrNotFound) {
			t.Fatalf("change to a missing user: %v", err)
		}
	}

	for i, a := range []string{access.AuditSignInFailed, access.AuditSignIn, access.AuditView, access.AuditExport} {
		if err := s.AppendAudit(ctx, access.Event{At: clock.Add(time.Duration(i) * time.Second), Actor: "user:ana", Action: a, Target: "report:r1", IP: "192.0.2.1"}); err != nil {
			t.Fatal(err)
		}
	}
	ev, err := s.AuditLog(ctx, 0, 100)
	if err != nil || len(ev) != 4 || ev[0].Action != access.AuditSignInFailed || ev[3].Action != access.AuditExport || ev[0].IP != "192.0.2.1" || !ev[1].At.Equal(clock.Add(time.Second)) {
		t.Fatalf("audit: %+v %v", ev, err)
	}
	if more, _ := s.AuditLog(ctx, ev[1].Seq, 100); len(more) != 2 {
		t.Fatalf("audit after seq %d: %d", ev[1].Seq, len(more))
	}
}
