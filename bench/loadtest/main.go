// Command loadtest drives a real `accord serve` on loopback with the public
// corpus: every message over HTTP, then over SMTP, with several concurrent
// clients, and prints reports per second and latency percentiles. Then it
// kills the server with SIGKILL in the middle of a load, restarts it, and
// checks that every report the server acknowledged is in the store.
//
//	go run ./bench/loadtest -bin ACCORD -corpus DIR [-clients 8]
//
// bench/loadtest.sh builds the binary and fetches the corpus first.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	bin := flag.String("bin", "", "the accord binary")
	corpus := flag.String("corpus", "", "corpus folder with an index (bench/corpus.sh)")
	clients := flag.Int("clients", 8, "concurrent clients per run")
	limit := flag.Int("n", 0, "messages per run (0: the whole corpus)")
	runs := flag.String("runs", "channels,crash", "what to run: channels, crash, stores, flood, uploads, instances (comma-separated)")
	dsn := flag.String("dsn", "", "PostgreSQL DSN for the stores and instances runs (each run gets its own schema)")
	haproxy := flag.String("haproxy", "haproxy", "the HAProxy binary for the instances run")
	storeList := flag.String("stores", "sqlite,postgres", "the stores the stores run compares")
	capShare := flag.Float64("cap", 0.25, "the instances run also runs one and two instances each limited to this share of a CPU (a control group each, as root; 0: not)")
	flag.Parse()
	if *bin == "" || *corpus == "" {
		fmt.Fprintln(os.Stderr, "usage: loadtest -bin ACCORD -corpus DIR [-clients N] [-n N] [-runs channels,crash,stores,flood,uploads,instances] [-dsn DSN]")
		os.Exit(2)
	}
	want := map[string]bool{}
	for _, r := range strings.Split(*runs, ",") {
		want[strings.TrimSpace(r)] = true
	}
	if want["stores"] || want["flood"] || want["uploads"] || want["instances"] {
		nSpam := 1500
		if *limit > 0 {
			nSpam = *limit
		}
		spam, err := readCorpusLabel(*corpus, "spam", nSpam)
		if err != nil {
			fail(err)
		}
		if want["stores"] {
			runStores(*bin, *dsn, strings.Split(*storeList, ","), spam, *clients)
		}
		if want["flood"] {
			runFlood(*bin, spam)
		}
		if want["uploads"] {
			runUploads(*bin, *dsn, 24<<20)
		}
		if want["instances"] {
			runInstances(*bin, *dsn, *haproxy, spam, *clients, *capShare)
		}
		if !want["channels"] && !want["crash"] {
			return
		}
	}
	msgs, err := readCorpus(*corpus, *limit)
	if err != nil {
		fail(err)
	}
	fmt.Printf("corpus: %d messages; %d clients; %d CPUs; accord serve with SQLite\n\n", len(msgs), *clients, runtime.NumCPU())
	fmt.Printf("| channel | clients | acknowledged | refused | errors | seconds | reports/s | p50 ms | p99 ms | max ms |\n")
	fmt.Printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	var stats []string
	for _, ch := range []string{"http", "smtp"} {
		if !want["channels"] {
			break
		}
		n, err := start(*bin)
		if err != nil {
			fail(err)
		}
		r := load(n, msgs, *clients, func(int) string { return ch }, nil)
		st := n.stats()
		n.stop()
		r.print(ch, *clients)
		stats = append(stats, fmt.Sprintf("%s run: %d reports in %d campaigns, %d of them with several reports, the largest with %d",
			ch, st.Reports, st.Campaigns, st.Multi, st.Largest))
	}
	fmt.Println()
	for _, s := range stats {
		fmt.Println(s)
	}

	if !want["crash"] {
		return
	}
	// Crash: both channels at once, SIGKILL once a third is acknowledged.
	n, err := start(*bin)
	if err != nil {
		fail(err)
	}
	killAt := int64(len(msgs) / 3)
	var killed atomic.Bool
	r := load(n, msgs, *clients, func(i int) string { return []string{"http", "smtp"}[i%2] }, func(acked int64) {
		if acked >= killAt && killed.CompareAndSwap(false, true) {
			n.cmd.Process.Signal(syscall.SIGKILL)
		}
	})
	n.cmd.Wait()
	fmt.Printf("\ncrash test: SIGKILL after %d acknowledgements; %d acknowledged in all, %d requests failed when the server died\n",
		killAt, len(r.ids), r.errors)
	n2, err := restart(n)
	if err != nil {
		fail(err)
	}
	defer n2.stop()
	missing := 0
	for _, id := range r.ids {
		if !n2.has(id) {
			missing++
			if missing <= 5 {
				fmt.Printf("  MISSING: report %s was acknowledged but is not in the store\n", id)
			}
		}
	}
	count := n2.count()
	fmt.Printf("after restart: %d of %d acknowledged reports present, %d missing; the store holds %d reports\n",
		len(r.ids)-missing, len(r.ids), missing, count)
	if missing > 0 {
		os.Exit(1)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "loadtest:", err)
	os.Exit(1)
}

func readCorpus(dir string, limit int) ([][]byte, error) {
	idx, err := os.ReadFile(filepath.Join(dir, "index"))
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, line := range strings.Split(strings.TrimSpace(string(idx)), "\n") {
		_, path, _ := strings.Cut(line, " ")
		b, err := os.ReadFile(filepath.Join(dir, path))
		if err != nil {
			return nil, err
		}
		out = append(out, b)
		if limit > 0 && len(out) == limit {
			break
		}
	}
	return out, nil
}

// node is a running accord serve.
type node struct {
	bin, data, config string
	cmd               *exec.Cmd
	http, smtp        string
	reporter, analyst string
	metrics           string // a token of role metrics: commit sizes from /metrics
	stderr            *bytes.Buffer
}

var servingRe = regexp.MustCompile(`serving http://(\S+) \(web and API\) and smtp://(\S+) `)

// liftedRates: one client stands for a relay carrying many reporters (or
// a provider's feedback loop on one token): lift the per-sender, per-IP and
// per-token rates, keep the other bounds.
const liftedRates = "[smtp]\nrate_per_sender = 1000000\nrate_per_ip = 1000000\n[http]\nrate_api_per_token = 0\nrate_api_per_ip = 0\nrate_form_per_ip = 0\n"

func start(bin string) (*node, error) { return startWith(bin, liftedRates, "") }

// startWith starts a node with the given configuration file, in a data
// folder of its own (or data, when given).
func startWith(bin, config, data string) (*node, error) {
	dir, err := os.MkdirTemp("", "accord-load")
	if err != nil {
		return nil, err
	}
	n := &node{bin: bin, data: filepath.Join(dir, "data"), config: filepath.Join(dir, "accord.toml")}
	if data != "" {
		n.data = data
	}
	if err := os.WriteFile(n.config, []byte(config), 0o600); err != nil {
		return nil, err
	}
	// Tokens are made before the node serves: init creates it (and keeps
	// a node key already placed in the folder).
	if out, err := exec.Command(bin, "init", "--config", n.config, "--data", n.data).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("init: %w: %s", err, out)
	}
	for _, role := range []string{"reporter", "analyst", "metrics"} {
		out, err := exec.Command(bin, "token", "create", "--config", n.config, "--data", n.data, "--role", role).Output()
		if err != nil {
			return nil, fmt.Errorf("token create: %w", err)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		tok := lines[len(lines)-1]
		switch role {
		case "reporter":
			n.reporter = tok
		case "analyst":
			n.analyst = tok
		default:
			n.metrics = tok
		}
	}
	return n, n.launch()
}

func restart(old *node) (*node, error) {
	n := *old
	return &n, n.launch()
}

func (n *node) launch() error {
	n.cmd = exec.Command(n.bin, "serve", "--config", n.config, "--data", n.data, "--http", "127.0.0.1:0", "--smtp", "127.0.0.1:0")
	n.stderr = &bytes.Buffer{}
	n.cmd.Stderr = n.stderr
	out, err := n.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := n.cmd.Start(); err != nil {
		return err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	m := servingRe.FindStringSubmatch(line)
	if err != nil || m == nil {
		return fmt.Errorf("serve did not start: %q %v\n%s", line, err, n.stderr)
	}
	go io.Copy(io.Discard, out)
	n.http, n.smtp = m[1], m[2]
	return nil
}

func (n *node) stop() {
	n.cmd.Process.Signal(syscall.SIGTERM)
	n.cmd.Wait()
	os.RemoveAll(filepath.Dir(n.data))
}

func (n *node) get(path string) (int, []byte) {
	req, _ := http.NewRequest("GET", "http://"+n.http+path, nil)
	req.Header.Set("Authorization", "Bearer "+n.analyst)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func (n *node) has(id string) bool {
	code, _ := n.get("/api/v1/reports/" + id)
	return code == 200
}

type stats struct {
	Reports   int `json:"reports"`
	Campaigns int `json:"campaigns"`
	Multi     int `json:"campaigns_with_several_reports"`
	Largest   int `json:"largest_campaign"`
}

func (n *node) stats() stats {
	_, b := n.get("/api/v1/stats")
	var s stats
	json.Unmarshal(b, &s)
	return s
}

func (n *node) count() int { return n.stats().Reports }

type result struct {
	ids     []string
	lat     []time.Duration
	refused int // answered with a clear refusal (4xx/5xx SMTP, 4xx HTTP)
	errors  int // no answer (connection lost)
	elapsed time.Duration
}

func (r result) print(ch string, clients int) {
	slices.Sort(r.lat)
	pct := func(p float64) float64 {
		if len(r.lat) == 0 {
			return 0
		}
		return float64(r.lat[min(len(r.lat)-1, int(p*float64(len(r.lat))))].Microseconds()) / 1000
	}
	fmt.Printf("| %s | %d | %d | %d | %d | %.1f | %.0f | %.1f | %.1f | %.1f |\n", ch, clients, len(r.ids), r.refused, r.errors,
		r.elapsed.Seconds(), float64(len(r.ids))/r.elapsed.Seconds(), pct(0.5), pct(0.99), pct(1))
}

// load sends every message once, spread over the clients; channel picks
// each client's channel; onAck sees the running count of acknowledgements.
func load(n *node, msgs [][]byte, clients int, channel func(client int) string, onAck func(int64)) result {
	var (
		mu    sync.Mutex
		res   result
		next  atomic.Int64
		acked atomic.Int64
		wg    sync.WaitGroup
	)
	begin := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			var send func([]byte) ([]string, error)
			switch channel(c) {
			case "http":
				send = httpSender(n)
			default:
				send = smtpSender(n, c)
			}
			for {
				i := int(next.Add(1) - 1)
				if i >= len(msgs) {
					return
				}
				t0 := time.Now()
				ids, err := send(msgs[i])
				d := time.Since(t0)
				mu.Lock()
				var refused *refusal
				switch {
				case errors.As(err, &refused):
					res.refused++
				case err != nil:
					res.errors++
				default:
					res.ids = append(res.ids, ids...)
					res.lat = append(res.lat, d)
				}
				mu.Unlock()
				if err == nil && onAck != nil {
					onAck(acked.Add(1))
				}
			}
		}(c)
	}
	wg.Wait()
	res.elapsed = time.Since(begin)
	return res
}

type refusal struct{ msg string }

func (r *refusal) Error() string { return r.msg }

func httpSender(n *node) func([]byte) ([]string, error) {
	send := httpKeyedSender(n)
	return func(msg []byte) ([]string, error) { return send(msg, "") }
}

// httpKeyedSender is httpSender sending key as the Idempotency-Key ("":
// none): a retry with the key of a submission whose answer was lost gets
// that answer, not a second report.
func httpKeyedSender(n *node) func(msg []byte, key string) ([]string, error) {
	client := &http.Client{Timeout: time.Minute}
	return func(msg []byte, key string) ([]string, error) {
		req, _ := http.NewRequest("POST", "http://"+n.http+"/api/v1/reports", bytes.NewReader(msg))
		req.Header.Set("Authorization", "Bearer "+n.reporter)
		req.Header.Set("Content-Type", "message/rfc822")
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		res, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		if res.StatusCode != 201 {
			if res.StatusCode >= 400 && res.StatusCode < 500 {
				return nil, &refusal{fmt.Sprintf("%d %s", res.StatusCode, b)}
			}
			return nil, fmt.Errorf("%d %s", res.StatusCode, b)
		}
		var out struct {
			ID      string `json:"id"`
			Reports []struct {
				ID string `json:"id"`
			} `json:"reports"`
		}
		if err := json.Unmarshal(b, &out); err != nil {
			return nil, err
		}
		ids := []string{out.ID}
		for _, r := range out.Reports[min(1, len(out.Reports)):] {
			ids = append(ids, r.ID)
		}
		return ids, nil
	}
}

var storedRe = regexp.MustCompile(`Stored: complaint \S+, reports? ([a-z0-9, ]+)\.`)

// smtpSender keeps one connection, as a relay would, and reconnects after
// an error.
func smtpSender(n *node, c int) func([]byte) ([]string, error) {
	var conn *textproto.Conn
	from := fmt.Sprintf("load%d@reporters.example", c)
	return func(msg []byte) ([]string, error) {
		if conn == nil {
			var err error
			if conn, err = textproto.Dial("tcp", n.smtp); err != nil {
				return nil, err
			}
			if _, _, err := conn.ReadResponse(220); err != nil {
				conn.Close()
				conn = nil
				return nil, err
			}
			if err := cmd(conn, 250, "EHLO load.example"); err != nil {
				conn.Close()
				conn = nil
				return nil, err
			}
		}
		ids, err := deliver(conn, from, msg)
		var refused *refusal
		if err != nil && !errors.As(err, &refused) {
			conn.Close()
			conn = nil
		}
		return ids, err
	}
}

func cmd(c *textproto.Conn, want int, format string, args ...any) error {
	if err := c.PrintfLine(format, args...); err != nil {
		return err
	}
	code, msg, err := c.ReadResponse(want)
	if err != nil && code >= 400 {
		return &refusal{fmt.Sprintf("%d %s", code, msg)}
	}
	return err
}

func deliver(c *textproto.Conn, from string, msg []byte) ([]string, error) {
	if err := cmd(c, 250, "MAIL FROM:<%s>", from); err != nil {
		return nil, err
	}
	if err := cmd(c, 250, "RCPT TO:<complaints@node.example>"); err != nil {
		c.PrintfLine("RSET")
		c.ReadResponse(250)
		return nil, err
	}
	if err := cmd(c, 354, "DATA"); err != nil {
		return nil, err
	}
	w := c.DotWriter()
	w.Write(msg)
	if err := w.Close(); err != nil {
		return nil, err
	}
	code, text, err := c.ReadResponse(250)
	if err != nil {
		if code >= 400 {
			return nil, &refusal{fmt.Sprintf("%d %s", code, text)}
		}
		return nil, err
	}
	m := storedRe.FindStringSubmatch(text)
	if m == nil {
		return nil, fmt.Errorf("250 without report ids: %q", text)
	}
	return strings.Split(m[1], ", "), nil
}
