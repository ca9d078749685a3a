package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// TestMetricsCountWhatWasStored runs the binary and reads /metrics after
// the API was sent a report, its idempotent replay (201, nothing stored),
// the key again with another body (422 idempotency-key-reused) and a body
// with nothing to report (422 no-message): one report received, the two
// client's mistakes rejected, and no error of the node.
func TestMetricsCountWhatWasStored(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := accordBinary(t)
	data := filepath.Join(t.TempDir(), "accord-data")
	s := serve(t, bin, data)
	defer s.stop(t)
	reporter := lastLine(runBin(t, bin, "", "token", "create", "--data", data, "--role", "reporter"))
	reader := lastLine(runBin(t, bin, "", "token", "create", "--data", data, "--role", "metrics"))

	post := func(key, ctype string, body []byte) (int, http.Header, []byte) {
		t.Helper()
		req, _ := http.NewRequest("POST", "http://"+s.http+"/api/v1/reports", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+reporter)
		req.Header.Set("Content-Type", ctype)
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header, b
	}
	spam, _ := os.ReadFile("testdata/spam.eml")
	const key = "5b0a3f1e-8f7c-4a0e-9c52-2d7f3e1a9b10"
	if code, _, b := post(key, "message/rfc822", spam); code != 201 {
		t.Fatalf("first: %d %s", code, b)
	}
	if code, h, b := post(key, "message/rfc822", spam); code != 201 || h.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %v %s", code, h, b)
	}
	if code, _, b := post(key, "message/rfc822", append([]byte("X-Other: 1\r\n"), spam...)); code != 422 || !bytes.Contains(b, []byte("idempotency-key-reused")) {
		t.Fatalf("reused key: %d %s", code, b)
	}
	if code, _, b := post("", "text/plain", []byte("Hello, how do I report spam?\r\n")); code != 422 || !bytes.Contains(b, []byte("no-message")) {
		t.Fatalf("nothing to report: %d %s", code, b)
	}

	req, _ := http.NewRequest("GET", "http://"+s.http+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+reader)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("/metrics: %d %s", res.StatusCode, page)
	}
	value := func(series string) float64 {
		m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(page)
		if m == nil {
			return 0 // a counter never raised is not printed
		}
		v, _ := strconv.ParseFloat(string(m[1]), 64)
		return v
	}
	if v := value(`accord_reports_received_total{channel="api"}`); v != 1 {
		t.Errorf("accord_reports_received_total{channel=\"api\"} = %v, want 1 (the replay stored nothing)", v)
	}
	if v := value(`accord_complaints_rejected_total{channel="api"}`); v != 2 {
		t.Errorf("accord_complaints_rejected_total{channel=\"api\"} = %v, want 2 (the reused key and the empty body)", v)
	}
	if v := value(`accord_errors_total{component="intake_submit"}`); v != 0 {
		t.Errorf("accord_errors_total{component=\"intake_submit\"} = %v, want 0: a client's mistake is no error of the node", v)
	}
	if v := value(`accord_intake_submit_seconds_count{channel="api"}`); v != 1 {
		t.Errorf("accord_intake_submit_seconds_count{channel=\"api\"} = %v, want 1 (one commit)", v)
	}
}
