package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

type checked struct {
	Source  string `json:"source"`
	Message struct {
		Subject string `json:"subject"`
	} `json:"message"`
	Origin struct {
		IP string `json:"ip"`
	} `json:"origin"`
	Unwrapped *struct {
		Report       string `json:"report"`
		Form         string `json:"form"`
		FeedbackType string `json:"feedback_type"`
		ReportedIP   string `json:"reported_ip"`
		OriginAgrees any    `json:"origin_agrees"`
	} `json:"unwrapped"`
}

func checkJSON(t *testing.T, args ...string) (int, []checked, string) {
	t.Helper()
	code, out, errs := runCmd(t, "", append([]string{"check", "--json"}, args...)...)
	var vs []checked
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var v checked
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		vs = append(vs, v)
	}
	return code, vs, errs
}

// TestCheckUnwrapsReports: an ARF or X-ARF report is not the spam; the
// message it reports is, and the report's Source-IP is checked against the
// origin found in that message.
func TestCheckUnwrapsReports(t *testing.T) {
	const arf = "../../internal/intake/testdata/arf-01.eml"
	code, vs, errs := checkJSON(t, arf, "../../internal/intake/testdata/v4-messaging-spam.json")
	if code != 0 || len(vs) != 2 {
		t.Fatalf("exit %d, %d verdicts: %s", code, len(vs), errs)
	}
	a := vs[0]
	if a.Source != arf+"#arf" || a.Unwrapped == nil || a.Unwrapped.Form != "arf" || a.Unwrapped.Report != arf {
		t.Fatalf("ARF not unwrapped: %+v", a)
	}
	if a.Unwrapped.ReportedIP != "192.0.2.89" || a.Unwrapped.FeedbackType != "abuse" {
		t.Errorf("report fields: %+v", *a.Unwrapped)
	}
	// The reported message's origin differs from the report's Source-IP in
	// this (anonymised) sample, and the verdict says so.
	if a.Origin.IP == "" || a.Origin.IP == "192.0.2.89" || a.Unwrapped.OriginAgrees != false {
		t.Errorf("cross-check: origin %s, agrees %v", a.Origin.IP, a.Unwrapped.OriginAgrees)
	}
	if strings.Contains(strings.ToLower(a.Message.Subject), "abuse report") || a.Message.Subject == "" {
		t.Errorf("analysed the wrapper, subject %q", a.Message.Subject)
	}
	x := vs[1]
	if !strings.HasSuffix(x.Source, "#x-arf") || x.Unwrapped == nil || x.Unwrapped.ReportedIP == "" {
		t.Errorf("X-ARF not unwrapped: %+v", x)
	}
	// A plain message is analysed as it is.
	_, vs, _ = checkJSON(t, "testdata/spam.eml")
	if len(vs) != 1 || vs[0].Unwrapped != nil || vs[0].Source != "testdata/spam.eml" {
		t.Errorf("plain message: %+v", vs)
	}
}

// TestCheckMaildirAndSymlinks: control files, a Maildir's tmp/ and archives
// are skipped with a note; symbolic links to directories and files are
// followed (a loop ends); a directory with no message is an error.
func TestCheckMaildirAndSymlinks(t *testing.T) {
	spam, err := os.ReadFile("testdata/spam.eml")
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	md := filepath.Join(root, "Maildir")
	write := func(p string, b []byte) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(md, "cur", "1.host:2,S"), spam)
	write(filepath.Join(md, "new", "2.host"), spam)
	write(filepath.Join(md, "tmp", "3.host"), spam[:100])
	for _, f := range []string{"dovecot-uidlist", "dovecot.index", "dovecot.index.log", "dovecot.index.cache", "maildirsize", "subscriptions"} {
		write(filepath.Join(md, f), []byte("3 V1 N4\n"))
	}
	write(filepath.Join(md, "old.zip"), []byte("PK\x03\x04"))
	code, vs, errs := checkJSON(t, md)
	var got []string
	for _, v := range vs {
		got = append(got, strings.TrimPrefix(v.Source, md+"/"))
	}
	sort.Strings(got)
	if code != 0 || strings.Join(got, ",") != "cur/1.host:2,S,new/2.host" {
		t.Fatalf("exit %d, sources %v: %s", code, got, errs)
	}
	for _, skipped := range []string{"dovecot-uidlist", "dovecot.index.log", "maildirsize", "subscriptions", "old.zip: skipped: an archive", "tmp: skipped"} {
		if !strings.Contains(errs, skipped) {
			t.Errorf("no note for %s:\n%s", skipped, errs)
		}
	}

	// A symbolic link to the Maildir, and inside it a link to a message
	// elsewhere and a link back to the top (a loop).
	other := filepath.Join(root, "elsewhere.eml")
	write(other, spam)
	if err := os.Symlink(other, filepath.Join(md, "cur", "linked")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(md, filepath.Join(md, "loop")); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(root, "link-to-maildir")
	if err := os.Symlink(md, link); err != nil {
		t.Fatal(err)
	}
	code, vs, errs = checkJSON(t, link)
	got = got[:0]
	for _, v := range vs {
		got = append(got, strings.TrimPrefix(v.Source, link+"/"))
	}
	sort.Strings(got)
	if code != 0 || strings.Join(got, ",") != "cur/1.host:2,S,cur/linked,new/2.host" {
		t.Fatalf("through a symbolic link: exit %d, sources %v: %s", code, got, errs)
	}

	// Nothing but control files: an error, not a silent success.
	empty := filepath.Join(root, "empty")
	write(filepath.Join(empty, "dovecot-uidlist"), []byte("x"))
	if code, _, errs := checkJSON(t, empty); code != 1 || !strings.Contains(errs, "no message in this directory") {
		t.Errorf("empty directory: exit %d: %s", code, errs)
	}
}
