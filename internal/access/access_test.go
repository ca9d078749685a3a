package access

import (
	"strings"
	"testing"
	"time"
)

func TestRoles(t *testing.T) {
	for _, tc := range []struct {
		r, o Role
		ok   bool
	}{
		{Admin, Analyst, true}, {Authority, Analyst, true}, {Analyst, Analyst, true},
		{Reporter, Analyst, false}, {Analyst, Authority, false}, {Role("bogus"), Reporter, false},
	} {
		if got := tc.r.AtLeast(tc.o); got != tc.ok {
			t.Errorf("%s.AtLeast(%s) = %v", tc.r, tc.o, got)
		}
	}
	if _, err := ParseRole("root"); err == nil {
		t.Error("unknown role accepted")
	}
	if r, err := ParseRole("analyst"); err != nil || r != Analyst {
		t.Errorf("ParseRole(analyst) = %v %v", r, err)
	}
}

func TestTokensAreStoredHashed(t *testing.T) {
	plain, tok := NewToken(nil, Analyst, "ci", time.Now())
	if !strings.HasPrefix(plain, "acc_"+tok.ID+"_") || len(plain) < 40 {
		t.Errorf("token %q for id %q", plain, tok.ID)
	}
	if tok.Hash == plain || strings.Contains(tok.Hash, plain) || tok.Hash != Hash(plain) {
		t.Error("the stored record holds the token, not its hash")
	}
	other, _ := NewToken(nil, Analyst, "ci", time.Now())
	if other == plain {
		t.Error("two tokens are equal")
	}
}

func TestPasswords(t *testing.T) {
	if _, err := HashPassword("short"); err == nil {
		t.Error("a short password was accepted")
	}
	h, err := HashPassword("a long enough passphrase")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$2") || !CheckPassword(h, "a long enough passphrase") || CheckPassword(h, "a long enough passphrasE") {
		t.Errorf("bcrypt hash %q does not check as it should", h)
	}
}

func TestPrincipalLabel(t *testing.T) {
	if got := (Principal{Kind: "token", ID: "abc"}).Label(); got != "token:abc" {
		t.Errorf("label %q", got)
	}
	if got := (Principal{}).Label(); got != "anonymous" {
		t.Errorf("label %q", got)
	}
}

// TestBearer: the scheme's name is case-insensitive (RFC 9110 11.1), the
// token is what follows it, and another scheme or none is no token (the
// new user's trial, L4: "bearer TOKEN" was refused).
func TestBearer(t *testing.T) {
	for h, want := range map[string]string{"Bearer acc_a_b": "acc_a_b", "bearer acc_a_b": "acc_a_b", "BEARER  acc_a_b ": "acc_a_b", " Bearer x": "x"} {
		if got, ok := Bearer(h); !ok || got != want {
			t.Errorf("%q: %q %v, want %q", h, got, ok, want)
		}
	}
	for _, h := range []string{"", "Bearer", "Basic YTpi", "Bearerx acc", "acc_a_b"} {
		if got, ok := Bearer(h); ok {
			t.Errorf("%q: token %q", h, got)
		}
	}
}
