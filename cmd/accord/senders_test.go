package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// senderAPI calls the node's API with a token.
func senderAPI(t *testing.T, s *served, method, path, token string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://"+s.http+path, rd)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// exitCode runs the binary and returns its exit status and output.
func exitCode(t *testing.T, bin string, args ...string) (int, string) {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errorsAs(err, &ee):
		return ee.ExitCode(), string(out)
	}
	t.Fatalf("accord %v: %v", args, err)
	return -1, ""
}

func errorsAs(err error, ee **exec.ExitError) bool {
	x, ok := err.(*exec.ExitError)
	if ok {
		*ee = x
	}
	return ok
}

// A registered sender from the binary: consent, links, one-click and
// mailto opt-out (both idempotent), the feed, and a proof that verifies
// offline — and does not once edited.
func TestSendersEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := accordBinary(t)
	data := filepath.Join(t.TempDir(), "accord-data")
	s := serve(t, bin, data)
	out := runBin(t, bin, "", "sender", "add", "shop.example", "--contact", "dpo@shop.example", "--name", "Shop Ltd",
		"--jurisdiction", "EU,US", "--data", data)
	shop := lastLine(out)
	if !strings.HasPrefix(shop, "acc_") || !strings.Contains(out, "sender shop.example registered") {
		t.Fatalf("sender add: %s", out)
	}
	if code, _ := exitCode(t, bin, "sender", "add", "not a domain", "--contact", "x@y.example", "--data", data); code != 2 {
		t.Errorf("sender add with a bad domain: exit %d", code)
	}

	code, body := senderAPI(t, s, "POST", "/api/v1/consents", shop, map[string]any{"recipient": "bob@example.net", "list": "news", "basis": "consent",
		"capture": map[string]any{"method": "form", "text": "Send me the news", "checkbox_default": "unchecked"}})
	if code != 201 {
		t.Fatalf("POST consent: %d %s", code, body)
	}
	code, body = senderAPI(t, s, "POST", "/api/v1/unsubscribe-links", shop, map[string]any{"list": "news", "campaign": "dec",
		"recipients": []string{"bob@example.net", "carol@example.net"}})
	var links struct {
		Links []struct {
			Token, URL, Mailto, ListUnsubscribe string `json:",omitempty"`
		}
	}
	json.Unmarshal(body, &links)
	if code != 200 || len(links.Links) != 2 {
		t.Fatalf("links: %d %s", code, body)
	}
	// A GET is a page; the one-click POST unsubscribes bob, twice the same.
	res, err := http.Get(links.Links[0].URL)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("GET opt-out page: %v %v", err, res)
	}
	res.Body.Close()
	for i, want := range []string{"you are unsubscribed", "already"} {
		res, err := http.Post(links.Links[0].URL, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Fatalf("one-click POST %d: %d %s", i+1, res.StatusCode, b)
		}
	}
	// carol by mail to the opt-out address on the node's SMTP listener, twice.
	for i := 0; i < 2; i++ {
		if err := smtp.SendMail(s.smtp, nil, "carol@example.net", []string{links.Links[1].Mailto},
			[]byte("From: carol@example.net\r\nSubject: unsubscribe\r\n\r\nunsubscribe\r\n")); err != nil {
			t.Fatalf("mailto opt-out %d: %v", i+1, err)
		}
	}
	if err := smtp.SendMail(s.smtp, nil, "carol@example.net", []string{"unsubscribe+" + strings.Repeat("a", 45) + "@localhost"},
		[]byte("Subject: x\r\n\r\nx\r\n")); err == nil || !strings.Contains(err.Error(), "550") {
		t.Errorf("forged opt-out address: %v", err)
	}
	code, body = senderAPI(t, s, "GET", "/api/v1/suppressions", shop, nil)
	rows, _ := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if code != 200 || len(rows) != 3 || rows[1][4] != "one-click" || rows[2][4] != "mailto" {
		t.Fatalf("feed: %d %q", code, rows)
	}

	// The proof of bob's history verifies offline against the node's key.
	code, body = senderAPI(t, s, "GET", "/api/v1/consents/proof?recipient=bob@example.net", shop, nil)
	if code != 200 {
		t.Fatalf("proof: %d %s", code, body)
	}
	proof := filepath.Join(t.TempDir(), "proof.json")
	os.WriteFile(proof, body, 0o600)
	key := lastLine(runBin(t, bin, "", "node", "key", "--data", data))
	if code, out := exitCode(t, bin, "consent", "verify", "--key", key, proof); code != 0 || !strings.Contains(out, "OK:") || !strings.Contains(out, "opted out") {
		t.Errorf("consent verify: exit %d\n%s", code, out)
	}
	if code, out := exitCode(t, bin, "consent", "verify", proof); code != 3 || !strings.Contains(out, "NOT PINNED") {
		t.Errorf("consent verify without --key: exit %d\n%s", code, out)
	}
	edited := bytes.Replace(body, []byte(`"reason": "one-click"`), []byte(`"reason": "api"`), 1)
	os.WriteFile(proof, edited, 0o600)
	if code, out := exitCode(t, bin, "consent", "verify", "--key", key, proof); code != 1 || !strings.Contains(out, "PROBLEM") {
		t.Errorf("edited proof: exit %d\n%s", code, out)
	}
	out = runBin(t, bin, "", "sender", "show", "shop.example", "--data", data)
	if !strings.Contains(out, "dec") || !strings.Contains(out, "in good standing: true") {
		t.Errorf("sender show:\n%s", out)
	}
}
