package main

import (
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
