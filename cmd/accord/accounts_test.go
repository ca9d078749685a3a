package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// runBinCode runs the binary and returns its output and exit status.
func runBinCode(t *testing.T, bin, stdin string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// TestCommandsNeedANode: a mistyped data folder made an empty database
// and a new node key, and the command succeeded on nothing ("OK: 0
// custody entries"; a token the running node never sees). Every command
// but serve and init refuses a folder that holds no node, and creates
// nothing.
func TestCommandsNeedANode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := accordBinary(t)
	dir := t.TempDir()
	typo := filepath.Join(dir, "typo")
	for _, args := range [][]string{
		{"evidence", "chain", "--data", typo},
		{"audit", "--data", filepath.Join(dir, "nonexistent", "dir")},
		{"token", "create", "--role", "reporter", "--data", typo},
		{"node", "fingerprint", "--data", typo},
	} {
		out, code := runBinCode(t, bin, "", args...)
		if code == 0 || !strings.Contains(out, "no node in") {
			t.Errorf("accord %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("the commands created %v", ents)
	}
	// Without --data, in a folder with no node: refused, nothing made.
	cmd := exec.Command(bin, "token", "create", "--role", "reporter")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "no node in accord-data") {
		t.Errorf("token create with no node here: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "accord-data")); err == nil {
		t.Error("token create made ./accord-data")
	}
	// init makes one; then the commands work, and init again changes nothing.
	if out := runBin(t, bin, "", "init", "--data", typo); !strings.Contains(out, "node created") {
		t.Fatalf("init: %s", out)
	}
	fp := runBin(t, bin, "", "node", "fingerprint", "--data", typo)
	if out := runBin(t, bin, "", "init", "--data", typo); !strings.Contains(out, "already holds a node") {
		t.Fatalf("init twice: %s", out)
	}
	if runBin(t, bin, "", "node", "fingerprint", "--data", typo) != fp {
		t.Fatal("init twice changed the node key")
	}
	runBin(t, bin, "", "evidence", "chain", "--data", typo)

	// accord audit shows the newest events and says where the others are
	// (it showed events 1–1000 and nothing after, with no hint).
	for _, role := range []string{"reporter", "analyst", "authority"} {
		runBin(t, bin, "", "token", "create", "--role", role, "--data", typo)
	}
	out := runBin(t, bin, "", "audit", "--limit", "2", "--data", typo)
	if !strings.Contains(out, "role authority") || strings.Contains(out, "role reporter") || !strings.Contains(out, "older events: accord audit --after 0") {
		t.Errorf("audit --limit 2 does not show the newest two:\n%s", out)
	}
	if out := runBin(t, bin, "", "audit", "--limit", "1", "--after", "0", "--data", typo); !strings.Contains(out, "role reporter") || !strings.Contains(out, "more: accord audit --after 1") {
		t.Errorf("audit --after 0 --limit 1 gives no hint of more:\n%s", out)
	}
}

// TestAccountsFromTheCommandLine: user add refuses a taken name and keeps
// the password; passwd, disable, enable, remove and list work; tokens are
// listed without secrets and refused once revoked; every change is in the
// audit log.
func TestAccountsFromTheCommandLine(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := accordBinary(t)
	data := filepath.Join(t.TempDir(), "accord-data")
	d := []string{"--data", data}
	runBin(t, bin, "", "init", "--data", data)
	runBin(t, bin, "first passphrase\n", append([]string{"user", "add", "--role", "analyst"}, append(d, "ana")...)...)
	out, code := runBinCode(t, bin, "second passphrase\n", append([]string{"user", "add", "--role", "admin"}, append(d, "ana")...)...)
	if code != 1 || !strings.Contains(out, "already exists") {
		t.Fatalf("second user add: %d %s", code, out)
	}
	list := runBin(t, bin, "", append([]string{"user", "list"}, d...)...)
	if !strings.Contains(list, "ana") || !strings.Contains(list, "analyst") || strings.Contains(list, "admin") || strings.Contains(list, "$2a$") {
		t.Fatalf("user list after the refused add:\n%s", list)
	}
	runBin(t, bin, "third passphrase!\n", append([]string{"user", "passwd"}, append(d, "ana")...)...)
	runBin(t, bin, "", append([]string{"user", "disable"}, append(d, "ana")...)...)
	list = runBin(t, bin, "", append([]string{"user", "list"}, d...)...)
	if f := strings.Fields(strings.Split(strings.TrimSpace(list), "\n")[1]); f[0] != "ana" || f[len(f)-1] == "-" {
		t.Fatalf("disabled user not shown as disabled:\n%s", list)
	}
	runBin(t, bin, "", append([]string{"user", "enable"}, append(d, "ana")...)...)
	runBin(t, bin, "", append([]string{"user", "remove"}, append(d, "ana")...)...)
	if out, code := runBinCode(t, bin, "", append([]string{"user", "remove"}, append(d, "ana")...)...); code != 1 || !strings.Contains(out, "no user ana") {
		t.Fatalf("removing twice: %d %s", code, out)
	}

	tok := lastLine(runBin(t, bin, "", append([]string{"token", "create", "--role", "reporter", "--label", "scanner"}, d...)...))
	id := strings.Split(tok, "_")[1]
	tl := runBin(t, bin, "", append([]string{"token", "list"}, d...)...)
	if !strings.Contains(tl, id) || !strings.Contains(tl, "scanner") || strings.Contains(tl, tok) {
		t.Fatalf("token list:\n%s", tl)
	}
	runBin(t, bin, "", append([]string{"token", "revoke"}, append(d, id)...)...)
	if out, code := runBinCode(t, bin, "", append([]string{"token", "revoke"}, append(d, id)...)...); code != 1 {
		t.Fatalf("revoking twice: %d %s", code, out)
	}
	audit := runBin(t, bin, "", append([]string{"audit"}, d...)...)
	for _, want := range []string{"added with role analyst", "password changed", "disabled", "enabled", "removed", "token:" + id, "revoked"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit lacks %q:\n%s", want, audit)
		}
	}
	// More than one read may return is refused, not silently shortened.
	if out, code := runBinCode(t, bin, "", append([]string{"audit", "--limit", "10001"}, d...)...); code != 2 || !strings.Contains(out, "at most 10000") {
		t.Errorf("audit --limit 10001: %d %s", code, out)
	}
}
