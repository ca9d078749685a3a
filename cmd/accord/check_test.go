package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCmd(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(stdin), stdout: &out, stderr: &errb, log: discardLogger()}
	code = run(context.Background(), e, args)
	return code, out.String(), errb.String()
}

func TestCheckReport(t *testing.T) {
	code, out, errs := runCmd(t, "", "check", "testdata/spam.eml")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"== testdata/spam.eml",
		"Origin      203.0.113.77 (HELO bank.example) · hop 2 of 2 · trust inferred",
		"identity disguised: true",
		"strong: the display name shows service@bank.example",
		"strong: replies go to the free-mail address bank.support@gmail.com",
		"breach        eu-identity-not-disguised",
		"link-text-mismatch",
		"obfuscated-url",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
}

func TestCheckJSONLinesSources(t *testing.T) {
	stdin, err := os.ReadFile("testdata/spam.eml")
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCmd(t, string(stdin), "check", "--json", "testdata/two.mbox", "-", "testdata/spam.eml")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var sources []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var v struct {
			Source  string `json:"source"`
			Message struct {
				Subject string `json:"subject"`
			} `json:"message"`
		}
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("not JSON: %v: %s", err, line)
		}
		sources = append(sources, v.Source+" "+v.Message.Subject)
	}
	want := []string{"testdata/two.mbox#1 first", "testdata/two.mbox#2 second", "- Your account is suspended", "testdata/spam.eml Your account is suspended"}
	if strings.Join(sources, "|") != strings.Join(want, "|") {
		t.Errorf("sources = %q\nwant %q", sources, want)
	}
}

func TestCheckDirectoryAndUnreadable(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "a.eml"), []byte("Subject: a\n\nbody\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "empty.eml"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runCmd(t, "", "check", "--json", dir, filepath.Join(dir, "missing.eml"))
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if strings.Count(out, "\n") != 1 || !strings.Contains(out, `"source":"`+filepath.Join(dir, "a.eml")+`"`) {
		t.Errorf("the readable message must still be analysed: %s", out)
	}
	for _, want := range []string{"missing.eml: stat", "empty.eml: empty input", "2 input(s) could not be analysed; 1 message(s) were"} {
		if !strings.Contains(errs, want) {
			t.Errorf("stderr lacks %q: %s", want, errs)
		}
	}
}

func TestCheckMalformedStillAnalysed(t *testing.T) {
	code, out, _ := runCmd(t, "\x00\x01garbage\xff\nnot a header\n", "check", "--json", "-")
	if code != 0 || !strings.Contains(out, `"missing-header-separator"`) {
		t.Errorf("exit %d, out %s", code, out)
	}
}

func TestCheckFixtureResolverAndFlags(t *testing.T) {
	zone := filepath.Join(t.TempDir(), "dns.zone")
	os.WriteFile(zone, []byte("freshmail.example TXT \"v=spf1 -all\"\n_dmarc.secure-login.example TXT \"v=DMARC1; p=reject\"\n"), 0o644)
	code, out, errs := runCmd(t, "", "check", "--json", "--resolver", zone, "--trusted", "10.0.0.0/8,mx.example.net", "--jurisdiction", "eu,us,uk", "testdata/spam.eml")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var v struct {
		Origin struct{ Trust string }
		Auth   struct {
			SPF   struct{ Result string }
			DMARC struct {
				Result  string
				Applied string `json:"applied_policy"`
			} `json:"dmarc"`
		}
		Legal []struct{ Jurisdiction string }
	}
	json.Unmarshal([]byte(out), &v)
	if v.Auth.SPF.Result != "fail" || v.Auth.DMARC.Result != "fail" || v.Auth.DMARC.Applied != "reject" || v.Origin.Trust != "given" || len(v.Legal) != 3 {
		t.Errorf("verdict = %+v", v)
	}
	for _, bad := range [][]string{
		{"check", "--resolver", "/nonexistent", "testdata/spam.eml"},
		{"check", "--trusted", "not a host!", "testdata/spam.eml"},
		{"check", "--jurisdiction", "ZZ", "testdata/spam.eml"},
		{"check"},
		{"nosuchcommand"},
	} {
		if code, _, errs := runCmd(t, "", bad...); code != 2 || errs == "" {
			t.Errorf("%v: exit %d, stderr %q", bad, code, errs)
		}
	}
}
