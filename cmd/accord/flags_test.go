package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/store/sqlite"
)

// TestFlagsAfterThePositionalArgument: every command that takes a
// positional argument reads its flags on either side of it, as the peer
// commands do. `accord token revoke ID --data DIR` printed the usage
// (the flags after the ID were never read), and so did user, evidence,
// check, learn and score with a flag after their argument.
func TestFlagsAfterThePositionalArgument(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if code, _, errs := runCmd(t, "", "init", "--data", data); code != 0 {
		t.Fatalf("init: %d %s", code, errs)
	}
	code, out, errs := runCmd(t, "", "token", "create", "--role", "reporter", "--data", data)
	if code != 0 {
		t.Fatalf("token create: %d %s", code, errs)
	}
	id := strings.Fields(out)[1]
	if code, out, errs := runCmd(t, "", "token", "revoke", id, "--data", data); code != 0 || !strings.Contains(out, "token "+id+" revoked") {
		t.Errorf("token revoke ID --data DIR: %d %s %s", code, out, errs)
	}
	if code, _, errs := runCmd(t, "a passphrase long enough\n", "user", "add", "ana", "--role", "admin", "--data", data); code != 0 {
		t.Errorf("user add NAME --role admin --data DIR: %d %s", code, errs)
	}
	if code, _, errs := runCmd(t, "", "user", "disable", "ana", "--data", data); code != 0 {
		t.Errorf("user disable NAME --data DIR: %d %s", code, errs)
	}
	if code, out, errs := runCmd(t, "", "user", "list", "--data", data); code != 0 || !strings.Contains(out, "admin") {
		t.Errorf("user list: %d %s %s", code, out, errs)
	}
	if code, _, errs := runCmd(t, "", "user", "list", "ana", "--data", data); code != 2 {
		t.Errorf("user list with a name: %d %s, want the usage", code, errs)
	}
	// Not the usage (2): the ID was read, and the node has no such report.
	if code, _, errs := runCmd(t, "", "evidence", "export", "r-nosuch", "--data", data); code == 2 || !strings.Contains(errs, "r-nosuch") {
		t.Errorf("evidence export ID --data DIR: %d %s", code, errs)
	}
	code, out, errs = runCmd(t, "", "check", "testdata/spam.eml", "--json")
	var v map[string]any
	if code != 0 || json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &v) != nil {
		t.Errorf("check FILE --json: %d %s %s", code, out, errs)
	}
	model := filepath.Join(t.TempDir(), "model")
	if code, _, errs := runCmd(t, "", "learn", "testdata/spam.eml", "--spam", "--model", model); code != 0 {
		t.Errorf("learn FILE --spam --model PATH: %d %s", code, errs)
	}
	if code, out, errs := runCmd(t, "", "score", "testdata/spam.eml", "--model", model); code != 0 || !strings.Contains(out, "testdata/spam.eml") {
		t.Errorf("score FILE --model PATH: %d %s %s", code, out, errs)
	}
}

// TestUserNamesReadAsWritten: a user name with a control, a space or an
// invisible character, or differing from another only in case, is
// refused (nothing saved); user list escapes what an older store holds.
func TestUserNamesReadAsWritten(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if code, _, errs := runCmd(t, "", "init", "--data", data); code != 0 {
		t.Fatalf("init: %d %s", code, errs)
	}
	if code, _, errs := runCmd(t, "a passphrase long enough\n", "user", "add", "ana", "--role", "admin", "--data", data); code != 0 {
		t.Fatalf("user add ana: %d %s", code, errs)
	}
	for _, name := range []string{"ev\x1b[31mil\nfake", "ana\u200b", "ana maria", "ANA"} {
		if code, _, errs := runCmd(t, "a passphrase long enough\n", "user", "add", name, "--role", "admin", "--data", data); code == 0 || strings.ContainsAny(errs, "\x1b\u200b") {
			t.Errorf("user add %q: %d %q", name, code, errs)
		}
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(data, "accord.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateUser(context.Background(), access.User{Name: "old\x1b[2J\nforged  admin", PasswordHash: "x", Role: access.Analyst, CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	us, _ := st.Users(context.Background())
	st.Close()
	if len(us) != 2 {
		t.Errorf("%d users saved, want ana and the old one", len(us))
	}
	code, out, _ := runCmd(t, "", "user", "list", "--data", data)
	if code != 0 || strings.Contains(out, "\x1b") || strings.Count(out, "\n") != 3 || !strings.Contains(out, `old\x1b[2J\nforged`) {
		t.Errorf("user list: %d %q", code, out)
	}
}
