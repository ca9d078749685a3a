package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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
		"Origin      203.0.113.77 (HELO bank.example) · hop 1 · trust inferred",
		"Path        hop 0 [trusted] 10.0.0.5 mx.example.net HELO mx.example.net -> store.example.net (ESMTP)",
		"hop 1 [ORIGIN] 203.0.113.77 HELO bank.example -> mx.example.net (esmtp)",
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
	code, out, errs := runCmd(t, "", "check", "--json", "--resolver", zone, "--trusted-only", "10.0.0.0/8,mx.example.net", "--jurisdiction", "eu,us,uk", "testdata/spam.eml")
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
	// Only the three forms: a scheme-like value naming the same zone is
	// refused (once read as that zone file), as is another case of "live".
	for _, v := range []string{"fixture:" + zone, "Live", ""} {
		if code, _, errs := runCmd(t, "", "check", "--resolver", v, "testdata/spam.eml"); code == 0 ||
			!strings.Contains(errs, `--resolver "`+v+`": want "offline", "live" or the path of a fixture zone file`) {
			t.Errorf("--resolver %q: exit %d, stderr %q", v, code, errs)
		}
	}
	for _, bad := range [][]string{
		{"check", "--resolver", "/nonexistent", "testdata/spam.eml"},
		{"check", "--trusted", "not a host!", "testdata/spam.eml"},
		{"check", "--trusted-only", "not a host!", "testdata/spam.eml"},
		{"check", "--trusted", "10.0.0.0/8", "--trusted-only", "10.0.0.0/8", "testdata/spam.eml"},
		{"check", "--jurisdiction", "ZZ", "testdata/spam.eml"},
		{"check"},
		{"nosuchcommand"},
	} {
		if code, _, errs := runCmd(t, "", bad...); code != 2 || errs == "" {
			t.Errorf("%v: exit %d, stderr %q", bad, code, errs)
		}
	}
}

func TestLearnScoreEvalAndCheckWithModel(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	var spamDir, hamDir = filepath.Join(dir, "spam"), filepath.Join(dir, "ham")
	os.Mkdir(spamDir, 0o755)
	os.Mkdir(hamDir, 0o755)
	var index strings.Builder
	for i := 0; i < 30; i++ {
		s := fmt.Sprintf("From: deals%d@promo.example\nSubject: FREE offer %d, act now\nMessage-ID: <s%d@promo.example>\n\nBuy cheap pills now! Limited offer, click here. Unsubscribe.\n", i, i, i)
		h := fmt.Sprintf("From: dev%d@project.example\nSubject: build %d failed\nMessage-ID: <h%d@project.example>\n\nThe nightly build failed again; the patch for the linker is in review.\n", i, i, i)
		os.WriteFile(filepath.Join(spamDir, fmt.Sprintf("%02d.eml", i)), []byte(s), 0o644)
		os.WriteFile(filepath.Join(hamDir, fmt.Sprintf("%02d.eml", i)), []byte(h), 0o644)
		fmt.Fprintf(&index, "spam ./spam/%02d.eml\nham ./ham/%02d.eml\n", i, i)
	}
	if code, out, errs := runCmd(t, "", "learn", "--data", data, "--spam", spamDir); code != 0 || !strings.Contains(out, "learned 30 as spam") {
		t.Fatalf("learn spam: %d %s %s", code, out, errs)
	}
	if code, out, errs := runCmd(t, "", "learn", "--data", data, "--ham", hamDir); code != 0 || !strings.Contains(out, "30 spam and 30 ham") {
		t.Fatalf("learn ham: %d %s %s", code, out, errs)
	}
	// Learning the same again changes nothing; a correction moves a message.
	if _, out, _ := runCmd(t, "", "learn", "--data", data, "--ham", hamDir); !strings.Contains(out, "already known 30") {
		t.Errorf("repeat learn: %s", out)
	}
	if _, out, _ := runCmd(t, "", "learn", "--data", data, "--spam", filepath.Join(hamDir, "00.eml")); !strings.Contains(out, "corrected 1") || !strings.Contains(out, "31 spam and 29 ham") {
		t.Errorf("correction: %s", out)
	}
	runCmd(t, "", "learn", "--data", data, "--ham", filepath.Join(hamDir, "00.eml"))

	code, out, errs := runCmd(t, "", "score", "--data", data, filepath.Join(spamDir, "05.eml"), filepath.Join(hamDir, "05.eml"))
	if code != 0 {
		t.Fatalf("score: %d %s", code, errs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "\tspam\t") || !strings.Contains(lines[1], "\tham\t") {
		t.Errorf("score output:\n%s", out)
	}
	// check picks the model up and explains the score.
	_, out, _ = runCmd(t, "", "check", "--data", data, filepath.Join(spamDir, "07.eml"))
	if !strings.Contains(out, "Spam ") || !strings.Contains(out, "for spam:") {
		t.Errorf("check without a spam line:\n%s", out)
	}

	idx := filepath.Join(dir, "index")
	os.WriteFile(idx, []byte(index.String()), 0o644)
	res := filepath.Join(dir, "results")
	modelOut := filepath.Join(dir, "eval.acm")
	code, out, errs = runCmd(t, "", "eval", "--index", idx, "--results", res, "--model", modelOut)
	if code != 0 {
		t.Fatalf("eval: %d %s", code, errs)
	}
	for _, want := range []string{"(1-ROCA)%: ", "lam%: ", "spam caught at 0.1% FPR: ", "messages: 60 scored", "seconds: "} {
		if !strings.Contains(out, want) {
			t.Errorf("eval output lacks %q:\n%s", want, out)
		}
	}
	rb, _ := os.ReadFile(res)
	if n := strings.Count(string(rb), "\n"); n != 61 || !strings.HasPrefix(string(rb), "./spam/00.eml judge=spam class=") ||
		!strings.HasSuffix(string(rb), "# complete scored=60 failures=0 train_failures=0\n") {
		t.Errorf("results file: %d lines\n%.200s", n, rb)
	}
	if _, err := os.Stat(modelOut); err != nil {
		t.Errorf("eval --model: %v", err)
	}
	code, out, _ = runCmd(t, "", "eval", "--index", idx, "--protocol", "batch")
	if code != 0 || !strings.Contains(out, "messages: 30 scored") {
		t.Errorf("batch eval: %d %s", code, out)
	}
	// Errors are clear.
	os.WriteFile(filepath.Join(dir, "bad.acm"), []byte("not a model"), 0o644)
	if code, _, errs := runCmd(t, "", "score", "--model", filepath.Join(dir, "bad.acm"), idx); code != 1 || !strings.Contains(errs, "not an Accord model") {
		t.Errorf("bad model: %d %s", code, errs)
	}
	os.WriteFile(filepath.Join(dir, "badindex"), []byte("maybe ./x\n"), 0o644)
	if code, _, errs := runCmd(t, "", "eval", "--index", filepath.Join(dir, "badindex")); code != 1 || !strings.Contains(errs, "line 1") {
		t.Errorf("bad index: %d %s", code, errs)
	}
	if code, _, _ := runCmd(t, "", "learn", "--spam", "--ham", idx); code != 2 {
		t.Errorf("learn with both classes: %d", code)
	}
}

// A mailbox fetched by POP3 from its provider in one message, and handed
// over by the same provider by SMTP in another: the provider is the
// mailbox's own in both, so the second message's origin is the provider's
// client — when the operator says the inputs are one mailbox
// (--learn-fetch).
func TestCheckLearnsFetchedServers(t *testing.T) {
	dir := t.TempDir()
	body := "From: a@example.com\r\nSubject: x\r\nDate: Tue, 3 Nov 2026 10:00:00 +0100\r\nMessage-ID: <%d@example.com>\r\n\r\nhi\r\n"
	fetched := "Received: from localhost (localhost [127.0.0.1]) by home.example.org (Postfix) with ESMTP id 1; Tue, 3 Nov 2026 10:00:03 +0100\r\n" +
		"Received: from pop.provider.example [192.0.2.1] by localhost with POP3 (fetchmail-6.4.37) for <me@localhost> (single-drop); Tue, 3 Nov 2026 10:00:03 +0100\r\n" +
		"Received: from one.example (one.example [198.51.100.1]) by pop.provider.example (Postfix) with ESMTP id 2; Tue, 3 Nov 2026 10:00:02 +0100\r\n" + fmt.Sprintf(body, 1)
	forwarded := "Received: from pop.provider.example (pop.provider.example [192.0.2.1]) by home.example.org (Postfix) with ESMTP id 3; Tue, 3 Nov 2026 10:00:03 +0100\r\n" +
		"Received: from two.example (two.example [198.51.100.2]) by pop.provider.example (Postfix) with ESMTP id 4; Tue, 3 Nov 2026 10:00:02 +0100\r\n" + fmt.Sprintf(body, 2)
	os.WriteFile(filepath.Join(dir, "1.eml"), []byte(fetched), 0o644)
	os.WriteFile(filepath.Join(dir, "2.eml"), []byte(forwarded), 0o644)
	origins := func(args ...string) map[string]string {
		code, out, errs := runCmd(t, "", append(append([]string{"check", "--json"}, args...), dir)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		got := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var v struct {
				Source string
				Origin struct{ IP, Why string }
			}
			if err := json.Unmarshal([]byte(line), &v); err != nil {
				t.Fatal(err)
			}
			got[filepath.Base(v.Source)] = v.Origin.IP
		}
		return got
	}
	if got := origins("--learn-fetch"); got["1.eml"] != "198.51.100.1" || got["2.eml"] != "198.51.100.2" {
		t.Errorf("learning: origins %v", got)
	}
	if got := origins(); got["1.eml"] != "198.51.100.1" || got["2.eml"] != "192.0.2.1" {
		t.Errorf("by default, without learning: origins %v", got)
	}
}

// Finding: by default one input must not change the verdict on another.
// A report whose only field records a retrieval from the spammer's address
// (uploaded evidence can be anything), beside another message received
// from that address: the second message's origin is the spammer's, with
// the report in the same run or not.
func TestCheckOneInputDoesNotTrustAnAddressInAnother(t *testing.T) {
	dir := t.TempDir()
	body := "From: PayPal <service@paypal.com>\r\nSubject: x\r\nDate: Tue, 3 Nov 2026 10:00:00 +0100\r\nMessage-ID: <%d@example.com>\r\n\r\nhi\r\n"
	planted := "Received: from x [203.0.113.7] by localhost with POP3 (fetchmail-6.4.37) for <me@localhost> (single-drop); Tue, 3 Nov 2026 10:00:03 +0100\r\n" + fmt.Sprintf(body, 1)
	victim := "Received: from mail.spam.example (mail.spam.example [203.0.113.7]) by mx.victim.example (Postfix) with ESMTP id 4TQ1; Tue, 3 Nov 2026 10:00:03 +0100\r\n" +
		"Received: from mx1.paypal.com (mx1.paypal.com [66.211.170.66]) by relay.example.net with ESMTPS id 2; Tue, 3 Nov 2026 10:00:02 +0100\r\n" + fmt.Sprintf(body, 2)
	// The same trick through a greeting (finding 1): nothing is learned.
	greeting := "Received: from getmail.spam.example (unknown [203.0.113.7]) by mx.victim.example (Postfix) with ESMTP id 4TQ2; Tue, 3 Nov 2026 10:00:03 +0100\r\n" + fmt.Sprintf(body, 3)
	os.WriteFile(filepath.Join(dir, "1.eml"), []byte(planted), 0o644)
	os.WriteFile(filepath.Join(dir, "2.eml"), []byte(victim), 0o644)
	os.WriteFile(filepath.Join(dir, "3.eml"), []byte(greeting), 0o644)
	check := func(args ...string) {
		t.Helper()
		code, out, errs := runCmd(t, "", append([]string{"check", "--json"}, args...)...)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			var v struct {
				Source string
				Origin struct{ IP, Why string }
			}
			if err := json.Unmarshal([]byte(line), &v); err != nil {
				t.Fatal(err)
			}
			if b := filepath.Base(v.Source); b != "1.eml" && v.Origin.IP != "203.0.113.7" {
				t.Errorf("%v: %s: origin %q (%s), want the spammer's 203.0.113.7", args, b, v.Origin.IP, v.Origin.Why)
			}
		}
	}
	check(dir)
	// With the operator's word that the inputs are one mailbox, the
	// greeting still teaches nothing.
	check("--learn-fetch", filepath.Join(dir, "2.eml"), filepath.Join(dir, "3.eml"))
}
