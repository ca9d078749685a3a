package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/accord-antispam/accord/internal/nodekey"
)

// pgSchema gives a test its own schema in the test command's PostgreSQL
// and returns a DSN that uses it.
func pgSchema(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("ACCORD_POSTGRES_DSN")
	if dsn == "" {
		if os.Getenv("ACCORD_REQUIRE_TOOLS") != "" {
			t.Fatal("ACCORD_POSTGRES_DSN not set, but the test command requires PostgreSQL")
		}
		t.Skip("ACCORD_POSTGRES_DSN not set (test.sh starts a PostgreSQL and sets it)")
	}
	schema := fmt.Sprintf("multi%d_%d", os.Getpid(), time.Now().UnixNano()%1e9)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a, _ := sql.Open("pgx", dsn)
		a.Exec("DROP SCHEMA " + schema + " CASCADE")
		a.Close()
	})
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "search_path=" + schema
}

// TestServeRefusesWhatCannotWork: a busy listener stops serve at once with
// the address in the error; a second serve on a data folder in use is
// refused and says why.
func TestServeRefusesWhatCannotWork(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := accordBinary(t)
	busy, _ := net.Listen("tcp", "127.0.0.1:0")
	defer busy.Close()
	for _, flags := range [][]string{{"--http", busy.Addr().String(), "--smtp", "127.0.0.1:0"}, {"--http", "127.0.0.1:0", "--smtp", busy.Addr().String()}} {
		cmd := exec.Command(bin, append([]string{"serve", "--data", filepath.Join(t.TempDir(), "d")}, flags...)...)
		done := make(chan struct{})
		var out []byte
		var err error
		go func() { out, err = cmd.CombinedOutput(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			t.Fatalf("serve with a busy listener (%v) hangs", flags)
		}
		if err == nil || !strings.Contains(string(out), "address already in use") || !strings.Contains(string(out), busy.Addr().String()) {
			t.Fatalf("busy listener %v: %v\n%s", flags, err, out)
		}
	}
	data := filepath.Join(t.TempDir(), "d")
	s := serve(t, bin, data)
	out, code := runBinCode(t, bin, "", "serve", "--data", data, "--http", "127.0.0.1:0", "--smtp", "127.0.0.1:0")
	if code == 0 || !strings.Contains(out, "in use by process") {
		t.Fatalf("second serve on one data folder: %d %s", code, out)
	}
	s.stop(t)
	// Once the first has stopped, the folder is free again.
	s = serve(t, bin, data)
	s.stop(t)
}

// TestInstancesShareOnePostgres: two serve processes, started at the same
// moment on one fresh PostgreSQL (the migrations race under their lock),
// take the same spam run from both sides at once: every report is stored,
// the run is one campaign, and the custody log is one chain with no fork —
// which the check proves it can see by failing once an entry is altered.
func TestInstancesShareOnePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dsn := pgSchema(t)
	bin := accordBinary(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "accord.toml")
	os.WriteFile(conf, []byte(fmt.Sprintf("[store]\ndriver = \"postgres\"\ndsn = %q\n[http]\nrate_api_per_token = 0\nrate_api_per_ip = 0\n", dsn)), 0o600)
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	// One node, two processes: the same node and DKIM keys in both
	// folders (init makes both, so they can be copied before serving).
	runBin(t, bin, "", "init", "--config", conf, "--data", a)
	os.MkdirAll(b, 0o700)
	for _, name := range []string{nodekey.FileName, "dkim.key"} {
		k, err := os.ReadFile(filepath.Join(a, name))
		if err != nil {
			t.Fatalf("init made no %s: %v", name, err)
		}
		os.WriteFile(filepath.Join(b, name), k, 0o600)
	}

	var wg sync.WaitGroup
	nodes := make([]*served, 2)
	for i, d := range []string{a, b} {
		wg.Add(1)
		go func(i int, d string) { defer wg.Done(); nodes[i] = serve(t, bin, d, "--config", conf) }(i, d)
	}
	wg.Wait()
	tok := lastLine(runBin(t, bin, "", "token", "create", "--config", conf, "--data", a, "--role", "reporter"))
	analyst := lastLine(runBin(t, bin, "", "token", "create", "--config", conf, "--data", a, "--role", "analyst"))

	raw, _ := os.ReadFile("testdata/spam.eml")
	const n = 24
	campaigns := make([]string, n)
	var mu sync.Mutex
	errs := []string{}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			msg := bytes.Replace(raw, []byte("Subject: "), []byte(fmt.Sprintf("Subject: [%d] ", i)), 1)
			msg = bytes.Replace(msg, []byte("Message-ID: <"), []byte(fmt.Sprintf("Message-ID: <%d.", i)), 1)
			req, _ := http.NewRequest("POST", "http://"+nodes[i%2].http+"/api/v1/reports", bytes.NewReader(msg))
			req.Header.Set("Authorization", "Bearer "+tok)
			req.Header.Set("Content-Type", "message/rfc822")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				mu.Lock()
				errs = append(errs, err.Error())
				mu.Unlock()
				return
			}
			var c struct {
				CampaignID string `json:"campaign_id"`
			}
			json.NewDecoder(res.Body).Decode(&c)
			res.Body.Close()
			mu.Lock()
			if res.StatusCode != 201 {
				errs = append(errs, fmt.Sprint(res.StatusCode))
			}
			campaigns[i] = c.CampaignID
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("submissions failed: %v", errs)
	}
	distinct := map[string]bool{}
	for _, c := range campaigns {
		distinct[c] = true
	}
	if len(distinct) != 1 {
		t.Errorf("one spam run taken by two instances became %d campaigns: %v", len(distinct), campaigns)
	}
	req, _ := http.NewRequest("GET", "http://"+nodes[1].http+"/api/v1/stats", nil)
	req.Header.Set("Authorization", "Bearer "+analyst)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Reports int `json:"reports"`
	}
	json.NewDecoder(res.Body).Decode(&st)
	res.Body.Close()
	if st.Reports != n {
		t.Fatalf("%d reports stored, want %d", st.Reports, n)
	}
	out := runBin(t, bin, "", "evidence", "chain", "--config", conf, "--data", a)
	if !strings.Contains(out, fmt.Sprintf("OK: %d custody entries", n)) {
		t.Fatalf("custody chain: %s", out)
	}
	// A third instance given a copy of the node key but no dkim.key makes
	// its own at start: it would sign the node's mail with a key no DNS
	// record publishes, so it is refused, naming both fingerprints.
	c := filepath.Join(dir, "c")
	os.MkdirAll(c, 0o700)
	k, _ := os.ReadFile(filepath.Join(a, nodekey.FileName))
	os.WriteFile(filepath.Join(c, nodekey.FileName), k, 0o600)
	if out, code := runBinCode(t, bin, "", "serve", "--config", conf, "--data", c, "--http", "127.0.0.1:0", "--smtp", "127.0.0.1:0"); code == 0 ||
		!strings.Contains(out, "is not the key this node's other instances sign its mail with") || !strings.Contains(out, "copy dkim.key") {
		t.Fatalf("an instance with its own DKIM key: %d %s", code, out)
	}
	for _, s := range nodes {
		s.stop(t)
	}
	db, _ := sql.Open("pgx", dsn)
	defer db.Close()
	if _, err := db.Exec(`UPDATE custody SET detail = 'altered' WHERE seq = 7`); err != nil {
		t.Fatal(err)
	}
	if out, code := runBinCode(t, bin, "", "evidence", "chain", "--config", conf, "--data", a); code != 1 || !strings.Contains(out, "entry 7") {
		t.Fatalf("an altered custody entry went unnoticed: %d %s", code, out)
	}
}
