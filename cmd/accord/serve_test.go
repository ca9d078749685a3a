package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// accordBinary builds the command once per test run (TestMain removes
// it).
func accordBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "accord-test-bin")
		if err != nil {
			built.err = err
			return
		}
		built.dir = dir
		bin := filepath.Join(dir, "accord")
		if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		built.bin = bin
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.bin
}

var built struct {
	once     sync.Once
	dir, bin string
	err      error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

type served struct {
	cmd        *exec.Cmd
	http, smtp string
	logs       *bytes.Buffer
}

var servingRe = regexp.MustCompile(`serving http://(\S+) \(web and API\) and smtp://(\S+) `)

func serve(t *testing.T, bin, data string, extra ...string) *served {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--data", data, "--http", "127.0.0.1:0", "--smtp", "127.0.0.1:0"}, extra...)...)
	stdout, _ := cmd.StdoutPipe()
	logs := &bytes.Buffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	m := servingRe.FindStringSubmatch(line)
	if err != nil || m == nil {
		t.Fatalf("serve did not start: %q %v\n%s", line, err, logs)
	}
	go io.Copy(io.Discard, stdout)
	return &served{cmd, m[1], m[2], logs}
}

func (s *served) stop(t *testing.T) {
	t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve did not stop cleanly: %v\n%s", err, s.logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("serve ignored SIGTERM\n%s", s.logs)
	}
}

func runBin(t *testing.T, bin string, stdin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("accord %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func TestServeEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := accordBinary(t)
	data := filepath.Join(t.TempDir(), "accord-data")
	s := serve(t, bin, data)

	reporter := lastLine(runBin(t, bin, "", "token", "create", "--data", data, "--role", "reporter"))
	analyst := lastLine(runBin(t, bin, "", "token", "create", "--data", data, "--role", "analyst"))
	if !strings.HasPrefix(reporter, "acc_") {
		t.Fatalf("token create printed %q last", reporter)
	}

	// Over the API.
	raw, _ := os.ReadFile("testdata/spam.eml")
	req, _ := http.NewRequest("POST", "http://"+s.http+"/api/v1/reports", bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+reporter)
	req.Header.Set("Content-Type", "message/rfc822")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		ID         string `json:"id"`
		CampaignID string `json:"campaign_id"`
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	json.Unmarshal(body, &created)
	if res.StatusCode != 201 || created.ID == "" {
		t.Fatalf("POST: %d %s", res.StatusCode, body)
	}

	// Over SMTP.
	fwd := "From: reporter@example.net\r\nTo: complaints@node.example\r\nSubject: Fwd: spam\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nspam again\r\n--b\r\n" +
		"Content-Type: message/rfc822\r\n\r\n" + string(raw) + "\r\n--b--\r\n"
	if err := smtp.SendMail(s.smtp, nil, "reporter@example.net", []string{"complaints@node.example"}, []byte(fwd)); err != nil {
		t.Fatalf("SMTP: %v", err)
	}

	// Restart: everything acknowledged is still there.
	s.stop(t)
	s = serve(t, bin, data)
	get := func(path string) (int, []byte) {
		req, _ := http.NewRequest("GET", "http://"+s.http+path, nil)
		req.Header.Set("Authorization", "Bearer "+analyst)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	code, b := get("/api/v1/campaigns/" + created.CampaignID)
	var camp struct{ Reports int }
	json.Unmarshal(b, &camp)
	if code != 200 || camp.Reports != 2 {
		t.Fatalf("after restart, the campaign has %d reports (want the API and SMTP reports): %d %s", camp.Reports, code, b)
	}

	// Evidence: downloaded, verified offline, pinned to the node's key.
	code, zip := get("/api/v1/reports/" + created.ID + "/evidence")
	if code != 200 {
		t.Fatalf("evidence: %d", code)
	}
	bundle := filepath.Join(t.TempDir(), "evidence.zip")
	os.WriteFile(bundle, zip, 0o600)
	key := strings.TrimSpace(runBin(t, bin, "", "node", "key", "--data", data))
	out := runBin(t, bin, "", "evidence", "verify", "--key", key, bundle)
	if !strings.Contains(out, "OK:") || !strings.Contains(out, "signed by node key "+key) {
		t.Errorf("verify: %s", out)
	}
	cmd := exec.Command(bin, "evidence", "verify", "--key", "AAAA"+key[4:], bundle)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "not by the pinned key") {
		t.Errorf("a bundle verified against the wrong key: %v\n%s", err, out)
	}
	s.stop(t)
	// No relay configured: the warning names every kind of mail that waits.
	for _, kind := range []string{"acknowledgements", "quarantine releases and digests", "consent confirmations", "feedback (ARF) reports", "accord outbound list"} {
		if !strings.Contains(s.logs.String(), kind) {
			t.Errorf("the no-relay warning does not name %q:\n%s", kind, s.logs)
		}
	}
	if !strings.Contains(s.logs.String(), "draining") {
		t.Errorf("no drain in the logs:\n%s", s.logs)
	}
	// A relay, but the mail domain left at localhost: bounces and DKIM
	// cannot work, and serve says so.
	conf := filepath.Join(t.TempDir(), "relay.toml")
	os.WriteFile(conf, []byte("[outbound]\nrelay = \"smtp://127.0.0.1:9\"\ntls = \"none\"\n"), 0o600)
	s = serve(t, bin, data, "--config", conf)
	s.stop(t)
	if !strings.Contains(s.logs.String(), "a name no one elsewhere can reach") {
		t.Errorf("no warning about a localhost mail domain with a relay:\n%s", s.logs)
	}
}

// Hostile HTTP clients are bounded and the node stays up.
func TestServeBoundsHTTPClients(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := accordBinary(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "accord.toml")
	os.WriteFile(conf, []byte("[http]\nheader_timeout = \"500ms\"\nmax_upload = 100000\nmax_conns_per_ip = 4\npublic_url = \"https://desk.example.org\"\n"), 0o600)
	s := serve(t, bin, filepath.Join(dir, "data"), "--config", conf)

	// Slow loris: a header trickled a line at a time, each inside any
	// per-read timeout; the header deadline ends it.
	c, err := net.Dial("tcp", s.http)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: %s\r\n", s.http)
	began := time.Now()
	cut := false
	for time.Since(began) < 10*time.Second {
		if _, err := fmt.Fprintf(c, "X-Slow-%d: x\r\n", time.Now().UnixNano()); err != nil {
			cut = true
			break
		}
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if _, err := c.Read(make([]byte, 512)); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			cut = true
			break
		}
	}
	if !cut {
		t.Error("a slow-loris client held its connection for 10 s")
	}

	// An oversized header: 431.
	big := strings.Repeat("a", 80<<10)
	req, _ := http.NewRequest("GET", "http://"+s.http+"/", nil)
	req.Header.Set("X-Big", big)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 431 {
		t.Errorf("oversized header: %v %v", res, err)
	}
	// An oversized body: 413 with the JSON error, whatever the client claims.
	tok := lastLine(runBin(t, bin, "", "token", "create", "--config", conf, "--data", filepath.Join(dir, "data"), "--role", "reporter"))
	req, _ = http.NewRequest("POST", "http://"+s.http+"/api/v1/reports", strings.NewReader(strings.Repeat("x", 200000)))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "message/rfc822")
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 413 {
		t.Errorf("oversized body: %v %v", res, err)
	}
	res.Body.Close()
	// Header injection through a parameter: refused, nothing echoed into headers.
	req, _ = http.NewRequest("POST", "http://"+s.http+"/api/v1/reports?consent=no%0d%0aSet-Cookie:%20x=1", strings.NewReader("Subject: x\r\n\r\nbuy"))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "message/rfc822")
	res, err = http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != 400 || res.Header.Get("Set-Cookie") != "" {
		t.Errorf("injection: %v %v", res, err)
	}
	res.Body.Close()
	// Still up.
	res, err = http.Get("http://" + s.http + "/healthz")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("node down after hostile clients: %v %v", res, err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	// Served as https://… (behind a TLS proxy): cookies are Secure without
	// http.secure_cookies, so a browser never sends them in clear.
	if res, err := http.Get("http://" + s.http + "/login"); err != nil {
		t.Fatal(err)
	} else {
		res.Body.Close()
		if len(res.Cookies()) == 0 || !res.Cookies()[0].Secure {
			t.Errorf("with public_url https://…, the sign-in cookie is not Secure: %v", res.Header["Set-Cookie"])
		}
	}
	http.DefaultClient.CloseIdleConnections()

	// One client holding connections (the attack held 4,000): past
	// max_conns_per_ip the next is told 503 before any request is read;
	// a connection closed gives its slot back.
	var held []net.Conn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	wait := time.Now().Add(10 * time.Second) // the server closing what the tests above left
	for len(held) < 4 {
		c, err := net.Dial("tcp", s.http)
		if err != nil {
			t.Fatal(err)
		}
		// One request each, kept alive: the connection stays past the header timeout.
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err == nil && res.StatusCode == 200 {
			held = append(held, c)
			continue
		}
		c.Close()
		if time.Now().After(wait) {
			t.Fatalf("connection %d: %v %v", len(held), res, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	status := func() int {
		c, err := net.Dial("tcp", s.http)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return 0
		}
		return res.StatusCode
	}
	if got := status(); got != 503 {
		t.Errorf("a fifth connection from one client: %d, want 503", got)
	}
	held[0].Close()
	deadline := time.Now().Add(10 * time.Second)
	for status() != 200 {
		if time.Now().After(deadline) {
			t.Fatal("the slot of a closed connection never came back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.stop(t)
}

// A node refuses to start on a resolver setting that is none of the three
// forms, naming the key and the forms: "fixture:PATH" was once read as the
// zone file PATH, a checking resolver no one had asked for.
func TestServeRefusesAnUnknownResolverForm(t *testing.T) {
	dir := t.TempDir()
	zone := writeFile(t, filepath.Join(dir, "zone"), "")
	for _, v := range []string{"fixture:" + zone, "Live"} {
		conf := writeFile(t, filepath.Join(dir, "accord.toml"), fmt.Sprintf("[analysis]\nresolver = %q\n", v))
		code, _, errs := runCmd(t, "", "serve", "--data", filepath.Join(dir, "data"), "--config", conf, "--http", "127.0.0.1:0", "--smtp", "127.0.0.1:0")
		want := fmt.Sprintf(`accord serve: config: analysis.resolver %q: want "offline", "live" or the path of a fixture zone file`, v)
		if code != 2 || !strings.Contains(errs, want) {
			t.Errorf("resolver %q: exit %d, stderr %q", v, code, errs)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
		t.Errorf("a node was made before the setting was refused")
	}
}
