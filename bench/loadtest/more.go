package main

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/accord-antispam/accord/internal/campaign"
)

// readCorpusLabel reads up to limit messages of one label ("spam") from
// the corpus index, in index order: distinct, realistic messages.
func readCorpusLabel(dir, label string, limit int) ([][]byte, error) {
	idx, err := os.ReadFile(filepath.Join(dir, "index"))
	if err != nil {
		return nil, err
	}
	var out [][]byte
	for _, line := range strings.Split(strings.TrimSpace(string(idx)), "\n") {
		l, path, _ := strings.Cut(line, " ")
		if l != label {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, path))
		if err != nil {
			return nil, err
		}
		out = append(out, b)
		if len(out) == limit {
			break
		}
	}
	return out, nil
}

// schemaDSN creates a fresh schema for one run and returns a DSN using it.
func schemaDSN(dsn, name string) (string, func(), error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return "", nil, err
	}
	defer db.Close()
	schema := fmt.Sprintf("load_%s_%d", name, time.Now().UnixNano()%1e9)
	if _, err := db.Exec("CREATE SCHEMA " + schema); err != nil {
		return "", nil, err
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	drop := func() {
		if db, err := sql.Open("pgx", dsn); err == nil {
			db.Exec("DROP SCHEMA " + schema + " CASCADE")
			db.Close()
		}
	}
	return dsn + sep + "search_path=" + schema, drop, nil
}

func pgConfig(dsn string) string {
	return liftedRates + fmt.Sprintf("[store]\ndriver = \"postgres\"\ndsn = %q\n", dsn)
}

// runStores: the same spam over HTTP into SQLite and into PostgreSQL on
// the same machine, with the same clients.
func runStores(bin, dsn string, stores []string, msgs [][]byte, clients int) {
	if dsn == "" {
		fail(fmt.Errorf("the stores run needs -dsn"))
	}
	fmt.Printf("\n## SQLite and PostgreSQL, same machine: %d distinct corpus spam over HTTP, %d clients\n\n", len(msgs), clients)
	fmt.Printf("| store | acknowledged | refused | errors | seconds | reports/s | p50 ms | p99 ms | max ms | campaigns | commits | complaints/commit | serve CPU ms/report | database server CPU ms/report | written KB/report | machine idle %% |\n")
	fmt.Printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, store := range stores {
		conf := liftedRates
		var drop func()
		var server func() time.Duration
		if store == "postgres" {
			d, dr, err := schemaDSN(dsn, "stores")
			if err != nil {
				fail(err)
			}
			conf, drop = pgConfig(d), dr
			server = serverCPU(dsn)
		}
		n, err := startWith(bin, conf, "")
		if err != nil {
			fail(err)
		}
		var server0 time.Duration
		if server != nil {
			server0 = server()
		}
		written := bytesWritten(store, dsn, n)
		w := watchCPU([]*node{n})
		r := load(n, msgs, clients, func(int) string { return "http" }, nil)
		idle, cpu := w.done()
		dbCPU := "— (in serve)"
		if server != nil {
			dbCPU = fmt.Sprintf("%.2f", float64((server()-server0).Microseconds())/1000/float64(max(len(r.ids), 1)))
		} else if store == "postgres" {
			dbCPU = "not readable"
		}
		kb := fmt.Sprintf("%.1f", float64(written())/1024/float64(max(len(r.ids), 1)))
		commits, complaints, _ := commitSizes(n)
		st := n.stats()
		n.stop()
		if drop != nil {
			drop()
		}
		p50, p99, pmax := r.percentiles()
		fmt.Printf("| %s | %d | %d | %d | %.1f | %.0f | %.1f | %.1f | %.1f | %d | %.0f | %.1f | %.2f | %s | %s | %.0f |\n", store, len(r.ids), r.refused, r.errors,
			r.elapsed.Seconds(), float64(len(r.ids))/r.elapsed.Seconds(), p50, p99, pmax, st.Campaigns,
			commits, complaints/max(commits, 1), float64(cpu.Microseconds())/1000/float64(max(len(r.ids), 1)), dbCPU, kb, idle)
	}
	fmt.Printf("\n(serve CPU: the serve process's user and system time, SQLite's work included; database server CPU: PostgreSQL's processes, from /proc; written: PostgreSQL's WAL (the distance its write-ahead log moved), SQLite's bytes the serve process wrote to disk (its WAL and checkpoints, from /proc); machine idle: of all CPUs, during the load, other work included — %s)\n", loadAvg())
}

// bytesWritten starts counting what a store writes for the load: on
// PostgreSQL the bytes of write-ahead log (the server's whole log: nothing
// else runs on it meanwhile), on SQLite the bytes the serve process had
// written to disk (/proc/PID/io: its WAL, and the checkpoints into the
// database file). The function it returns gives the count so far.
func bytesWritten(store, dsn string, n *node) func() int64 {
	if store == "postgres" {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return func() int64 { return -1 }
		}
		var start string
		if err := db.QueryRow(`SELECT pg_current_wal_lsn()::text`).Scan(&start); err != nil {
			db.Close()
			return func() int64 { return -1 }
		}
		return func() int64 {
			defer db.Close()
			var b float64
			if err := db.QueryRow(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)`, start).Scan(&b); err != nil {
				return -1
			}
			return int64(b)
		}
	}
	pid := n.cmd.Process.Pid
	start := procWriteBytes(pid)
	return func() int64 { return procWriteBytes(pid) - start }
}

// procWriteBytes is what a process has written to disk (write_bytes of
// /proc/PID/io).
func procWriteBytes(pid int) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "write_bytes: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return -1
}

// loadAvg is the machine's load average, to read the figures by.
func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "load average unknown"
	}
	return "load average " + strings.Join(f[:3], " ")
}

func (r result) percentiles() (p50, p99, pmax float64) {
	if len(r.lat) == 0 {
		return 0, 0, 0
	}
	l := append([]time.Duration(nil), r.lat...)
	slices.Sort(l)
	at := func(p float64) float64 {
		return float64(l[min(len(l)-1, int(p*float64(len(l))))].Microseconds()) / 1000
	}
	return at(0.5), at(0.99), at(1)
}

// peakRSS is the process's high-water mark of resident memory (VmHWM).
func peakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// runFlood: a node on its default limits, flooded through the anonymous
// form and the API from one address and one token; prints what was taken
// and what was refused with 429 (large uploads: runUploads).
func runFlood(bin string, spam [][]byte) {
	n, err := startWith(bin, "", "")
	if err != nil {
		fail(err)
	}
	defer n.stop()
	fmt.Printf("\n## Flood, on the default limits (form 30/min per IP, API 600/min per token, 1200/min per IP)\n\n")
	fmt.Printf("| what | sent | accepted | 429 | other | seconds | Retry-After |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	// The form: one browser, posting as fast as it can.
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get("http://" + n.http + "/")
	if err != nil {
		fail(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		fail(fmt.Errorf("no CSRF token on the form"))
	}
	var ok, limited, other int
	retry := ""
	t0 := time.Now()
	for i := 0; i < 100; i++ {
		form := url.Values{"csrf": {string(m[1])}, "source": {string(spam[i%len(spam)])}}
		req, _ := http.NewRequest("POST", "http://"+n.http+"/report", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "http://"+n.http)
		res, err := c.Do(req)
		if err != nil {
			other++
			continue
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		switch res.StatusCode {
		case 303:
			ok++
		case 429:
			limited++
			retry = res.Header.Get("Retry-After")
		default:
			other++
		}
	}
	fmt.Printf("| web form, one IP | 100 | %d | %d | %d | %.1f | %s s |\n", ok, limited, other, time.Since(t0).Seconds(), retry)
	// The API: one token, eight clients at once.
	var okA, limA, othA atomic.Int64
	var retryA atomic.Value
	retryA.Store("")
	t0 = time.Now()
	var wg sync.WaitGroup
	var next atomic.Int64
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= 1000 {
					return
				}
				req, _ := http.NewRequest("POST", "http://"+n.http+"/api/v1/reports", bytes.NewReader(spam[i%len(spam)]))
				req.Header.Set("Authorization", "Bearer "+n.reporter)
				req.Header.Set("Content-Type", "message/rfc822")
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					othA.Add(1)
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				switch res.StatusCode {
				case 201:
					okA.Add(1)
				case 429:
					limA.Add(1)
					retryA.Store(res.Header.Get("Retry-After"))
				default:
					othA.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	fmt.Printf("| API, one token, 8 clients | 1000 | %d | %d | %d | %.1f | %s s |\n", okA.Load(), limA.Load(), othA.Load(), time.Since(t0).Seconds(), retryA.Load())
}

// bigMessage is a spam of about size bytes: a short text and a large
// base64 attachment, the shape of the largest real reports.
func bigMessage(size int) []byte {
	var b bytes.Buffer
	b.WriteString("From: Invoices <billing@bulk.example>\r\nTo: you@example.net\r\nSubject: Your invoice is attached\r\n" +
		"Date: Tue, 3 Nov 2026 10:00:00 +0000\r\nMessage-ID: <big@bulk.example>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nPay now at http://bulk.example/pay\r\n" +
		"--b\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=invoice.pdf\r\n\r\n")
	line := strings.Repeat("QUNDT1JEIGxvYWQgdGVzdCBhdHRhY2htZW50IGRhdGEgLSBub3QgYSByZWFsIGZpbGUgLSAxMjM0", 1) + "\r\n"
	for b.Len() < size-len(line)-16 {
		b.WriteString(line)
	}
	b.WriteString("--b--\r\n")
	return b.Bytes()
}

// runInstances: the spam through HAProxy to one, then two serve processes
// on one PostgreSQL; then two again with one killed (SIGKILL) a third of
// the way in, clients retrying through HAProxy what got no answer, with
// the Idempotency-Key of their first try. Every acknowledged report must
// be present and no other, the custody log one chain, and the campaigns
// those of grouping the stored reports by their keys — the same number
// in every run, one instance or two, killed or not (campaigns are the
// components of shared keys, whatever the order of arrival).
//
// On a small machine one instance, PostgreSQL and the clients may already
// use every CPU, and a second instance then only shares them: that says
// how big the machine is, not how the design scales. So when capShare > 0,
// one and then two instances run again with each serve process limited to
// the same share of a CPU (a control group of its own): one capped
// instance is bound by its share (its throttled time says so), and two
// show what a second machine's worth of CPU adds.
func runInstances(bin, dsn, haproxy string, msgs [][]byte, clients int, capShare float64) {
	if dsn == "" {
		fail(fmt.Errorf("the instances run needs -dsn"))
	}
	fmt.Printf("\n## Several instances on one PostgreSQL behind HAProxy: %d distinct corpus spam over HTTP, %d clients\n\n", len(msgs), clients)
	fmt.Printf("| instances | CPU per instance | killed | acknowledged | refused | errors (retried) | seconds | reports/s | p50 ms | p99 ms | stored | not acknowledged | campaigns | grouped by keys in memory | custody | complaints/commit | commits started again | serve CPU ms/report | share of its CPU used | throttled | waited for a CPU ms/report | machine idle %% |\n")
	fmt.Printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	type runSpec struct {
		instances int
		kill      bool
		share     float64
	}
	runs := []runSpec{{1, false, 0}, {2, false, 0}, {2, true, 0}}
	if capShare > 0 {
		runs = append(runs, runSpec{1, false, capShare}, runSpec{2, false, capShare})
	}
	rates := map[float64][]float64{}
	var campaigns1 int
	var notes []string
	for _, run := range runs {
		d, drop, err := schemaDSN(dsn, "inst")
		if err != nil {
			fail(err)
		}
		cl, err := newCluster(bin, haproxy, d, run.instances, run.share)
		if err != nil {
			drop()
			notes = append(notes, fmt.Sprintf("runs capped at %.2f CPU per instance not made: %v", run.share, err))
			break
		}
		watch := watchCPU(cl.nodes)
		throttled0 := cl.throttled()
		var killed atomic.Bool
		killAt := int64(len(msgs) / 3)
		r := loadRetrying(cl, msgs, clients, func(acked int64) {
			if run.kill && acked >= killAt && killed.CompareAndSwap(false, true) {
				cl.nodes[0].cmd.Process.Signal(syscall.SIGKILL)
				cl.nodes[0].cmd.Wait()
			}
		})
		idle, cpu := watch.done()
		waited := watch.waited()
		throttled := cl.throttled() - throttled0
		var commits, complaints, restarts float64
		for _, n := range cl.nodes {
			c, k, a := commitSizes(n)
			commits, complaints, restarts = commits+c, complaints+k, restarts+a
		}
		survivor := cl.nodes[len(cl.nodes)-1]
		missing := 0
		acked := map[string]bool{}
		for _, id := range r.ids {
			acked[id] = true
			if !survivor.has(id) {
				missing++
			}
		}
		st := survivor.stats()
		// Stored but never acknowledged: a retry stored twice (what the
		// Idempotency-Key prevents).
		extra := st.Reports - (len(acked) - missing)
		chain, _ := exec.Command(bin, "evidence", "chain", "--config", survivor.config, "--data", survivor.data).CombinedOutput()
		chainOK := strings.HasPrefix(string(chain), "OK:")
		p50, p99, _ := r.percentiles()
		rate := float64(len(r.ids)) / r.elapsed.Seconds()
		if !run.kill {
			rates[run.share] = append(rates[run.share], rate)
		}
		if run.instances == 1 && run.share == 0 {
			campaigns1 = st.Campaigns
		}
		perReport := func(d time.Duration) string {
			return fmt.Sprintf("%.2f", float64(d.Microseconds())/1000/float64(max(len(r.ids), 1)))
		}
		kill, share, cpuPer, used, thr, wait := "no", "all", perReport(cpu), "—", "—", perReport(waited)
		if run.kill {
			kill, cpuPer, wait = "yes, 1 of 2", "—", "—" // the killed process's time is gone with it
		}
		if run.share > 0 {
			share = fmt.Sprintf("%.2f CPU", run.share)
			thr = fmt.Sprintf("%.0f%% of the time", 100*throttled.Seconds()/(r.elapsed.Seconds()*float64(run.instances)))
			if !run.kill {
				used = fmt.Sprintf("%.0f%%", 100*cpu.Seconds()/(r.elapsed.Seconds()*run.share*float64(run.instances)))
			}
		}
		custody := "one chain, verified"
		if !chainOK {
			custody = "BROKEN: " + strings.TrimSpace(string(chain))
		}
		cl.stop()
		orders := 0
		if run.instances == 1 && run.share == 0 {
			orders = 30
		}
		grouped, fewest, most, err := groupStored(d, orders)
		if err != nil {
			fail(err)
		}
		if orders > 0 {
			notes = append(notes, fmt.Sprintf("the one-instance run's %d reports grouped by their keys in memory make %d campaigns in their commit order and %d to %d in %d random orders (the same, by construction)",
				len(acked), grouped, fewest, most, orders))
			if fewest != most || fewest != grouped {
				defer func() {
					fmt.Printf("\nFAILED: grouping the same reports in different orders made %d to %d campaigns\n", fewest, most)
					os.Exit(1)
				}()
			}
		}
		fmt.Printf("| %d | %s | %s | %d | %d | %d | %.1f | %.0f | %.1f | %.1f | %d (%d missing) | %d | %d | %d | %s | %.1f | %.0f | %s | %s | %s | %s | %.0f |\n", run.instances, share, kill, len(acked), r.refused, r.errors,
			r.elapsed.Seconds(), rate, p50, p99, st.Reports, missing, extra, st.Campaigns, grouped, custody, complaints/max(commits, 1), restarts, cpuPer, used, thr, wait, idle)
		drop()
		if grouped != st.Campaigns {
			// Instances racing past each other's keys would show here.
			defer func() {
				fmt.Printf("\nFAILED: %d campaigns where grouping the same reports by their keys makes %d\n", st.Campaigns, grouped)
				os.Exit(1)
			}()
		}
		if st.Campaigns != campaigns1 {
			// Campaigns are the components of shared keys: the same
			// reports make the same campaigns, one instance or two, one
			// killed or not, whatever the order they arrived in.
			defer func() {
				fmt.Printf("\nFAILED: %d instance(s)%s%s: %d campaigns, the one-instance run %d\n", run.instances,
					map[bool]string{true: ", one killed"}[run.kill], map[bool]string{true: ", capped"}[run.share > 0], st.Campaigns, campaigns1)
				os.Exit(1)
			}()
		}
		if missing > 0 || extra != 0 || !chainOK {
			defer func() {
				fmt.Printf("\nFAILED: %d acknowledged reports missing, %d stored not acknowledged, custody chain ok %v\n", missing, extra, chainOK)
				os.Exit(1)
			}()
		}
	}
	fmt.Printf("\n(serve CPU: the serve processes' user and system time; share of its CPU used: that time over the share each capped process may use; throttled: time a capped process waited for its share; waited for a CPU: the time the processes' threads were ready to run and waited, cap and other work included; machine idle: of all CPUs, other work included — %s)\n", loadAvg())
	if b := rates[0]; len(b) == 2 {
		fmt.Printf("two instances take %.2f× the reports per second of one (each with the whole machine)\n", b[1]/b[0])
	}
	if b := rates[capShare]; capShare > 0 && len(b) == 2 {
		fmt.Printf("two instances take %.2f× the reports per second of one (each capped at %.2f CPU)\n", b[1]/b[0], capShare)
	}
	for _, n := range notes {
		fmt.Println("note:", n)
	}
}

// cluster is serve processes on one database behind an HAProxy.
type cluster struct {
	nodes []*node
	proxy *exec.Cmd
	addr  string
	dir   string
	caps  []*cpuCap
}

// newCluster starts the instances (each capped at share of a CPU when
// share > 0) and the proxy in front of them.
func newCluster(bin, haproxy, dsn string, instances int, share float64) (*cluster, error) {
	dir, err := os.MkdirTemp("", "accord-cluster")
	if err != nil {
		fail(err)
	}
	cl := &cluster{dir: dir}
	conf := fmt.Sprintf("[smtp]\nrate_per_sender = 1000000\nrate_per_ip = 1000000\n[http]\nrate_api_per_token = 0\nrate_api_per_ip = 0\nrate_form_per_ip = 0\n"+
		"trusted_proxies = [\"127.0.0.1\"]\n[store]\ndriver = \"postgres\"\ndsn = %q\n", dsn)
	// One node: every instance holds a copy of the first one's node and
	// DKIM keys (serve refuses others).
	var keys map[string][]byte
	for i := 0; i < instances; i++ {
		data := filepath.Join(dir, fmt.Sprintf("node%d", i))
		os.MkdirAll(data, 0o700)
		for name, k := range keys {
			os.WriteFile(filepath.Join(data, name), k, 0o600)
		}
		n, err := startWith(bin, conf, data)
		if err != nil {
			fail(err)
		}
		if keys == nil {
			keys = map[string][]byte{}
			for _, name := range []string{"node.key", "dkim.key"} {
				keys[name], _ = os.ReadFile(filepath.Join(data, name))
			}
		}
		cl.nodes = append(cl.nodes, n)
		if share > 0 {
			c, err := newCPUCap(fmt.Sprintf("accord-load-%d-%d", os.Getpid(), i), share)
			if err == nil {
				cl.caps = append(cl.caps, c)
				err = c.add(n.cmd.Process.Pid)
			}
			if err != nil {
				cl.proxy = nil
				cl.stop()
				return nil, err
			}
		}
	}
	// Every node shares the tokens of the first: they are in the database.
	for _, n := range cl.nodes[1:] {
		n.reporter, n.analyst, n.metrics = cl.nodes[0].reporter, cl.nodes[0].analyst, cl.nodes[0].metrics
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	cl.addr = l.Addr().String()
	l.Close()
	var servers strings.Builder
	for i, n := range cl.nodes {
		// Three failed checks before a server is out: a capped instance
		// busy with the load can be slow to answer one, and taking it out
		// of a one-server backend turned the whole run into 503s. A killed
		// instance refuses at once, so three checks still find it in 0.6 s.
		fmt.Fprintf(&servers, "    server n%d %s check inter 200ms fall 3 rise 2\n", i, n.http)
	}
	cfg := fmt.Sprintf(`global
    maxconn 4096
defaults
    mode http
    timeout connect 2s
    timeout client 2m
    timeout server 2m
    timeout check 2s
    retries 0
    option forwardfor
frontend desk
    bind %s
    default_backend accord
backend accord
    balance roundrobin
    option httpchk GET /healthz
%s`, cl.addr, servers.String())
	path := filepath.Join(dir, "haproxy.cfg")
	os.WriteFile(path, []byte(cfg), 0o600)
	cl.proxy = exec.Command(haproxy, "-f", path, "-db")
	cl.proxy.Stderr = io.Discard
	if err := cl.proxy.Start(); err != nil {
		fail(fmt.Errorf("haproxy: %w", err))
	}
	for i := 0; ; i++ {
		if res, err := http.Get("http://" + cl.addr + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if i > 100 {
			fail(fmt.Errorf("haproxy did not come up"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cl, nil
}

func (cl *cluster) stop() {
	if cl.proxy != nil {
		cl.proxy.Process.Signal(syscall.SIGTERM)
		cl.proxy.Wait()
	}
	for _, n := range cl.nodes {
		if n.cmd.ProcessState == nil {
			n.cmd.Process.Signal(syscall.SIGTERM)
			n.cmd.Wait()
		}
		os.RemoveAll(filepath.Dir(n.config))
	}
	for _, c := range cl.caps {
		c.remove()
	}
	os.RemoveAll(cl.dir)
}

// throttled is the time the cluster's capped processes have waited for
// their CPU share so far.
func (cl *cluster) throttled() time.Duration {
	var t time.Duration
	for _, c := range cl.caps {
		t += c.throttled()
	}
	return t
}

// loadRetrying sends every message through the proxy; a message that got
// no answer (its instance died) is sent again, as a reporter's script
// would, with the Idempotency-Key it was first sent with: a submission
// stored whose answer was lost is answered, not stored twice. Only
// acknowledged reports count.
func loadRetrying(cl *cluster, msgs [][]byte, clients int, onAck func(int64)) result {
	front := &node{http: cl.addr, reporter: cl.nodes[0].reporter}
	run := rand.Uint64()
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
		go func() {
			defer wg.Done()
			send := httpKeyedSender(front)
			for {
				i := int(next.Add(1) - 1)
				if i >= len(msgs) {
					return
				}
				key := fmt.Sprintf("loadtest-%016x-%d", run, i)
				// Retries back off (0.1, 0.2, 0.4, 0.8, then 1 s) for about 4.5 s
				// in all: longer than the proxy takes to see an instance is
				// gone (three failed checks, 0.6 s). Five tries 0.1 s apart
				// could all meet the killed instance, and a report the
				// client gave up on made the run's campaigns one fewer.
				for try, wait := 0, 100*time.Millisecond; try < 8; try, wait = try+1, min(2*wait, time.Second) {
					t0 := time.Now()
					ids, err := send(msgs[i], key)
					d := time.Since(t0)
					mu.Lock()
					var refused *refusal
					switch {
					case err == nil:
						res.ids = append(res.ids, ids...)
						res.lat = append(res.lat, d)
					case isRefusal(err, &refused):
						res.refused++
					default:
						res.errors++
					}
					mu.Unlock()
					if err == nil {
						if onAck != nil {
							onAck(acked.Add(1))
						}
						break
					}
					if isRefusal(err, &refused) {
						break
					}
					time.Sleep(wait)
				}
			}
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(begin)
	return res
}

func isRefusal(err error, r **refusal) bool {
	x, ok := err.(*refusal)
	if ok {
		*r = x
	}
	return ok
}

// groupStored groups the reports stored in the database by their
// grouping keys in memory (campaign.Partition), in the order they were
// committed (their "received" custody entries) and then in orders random
// (orders of them; 0: not), and returns the campaigns each order makes:
// the desk's campaigns are the connected components of sharing a key, so
// every order must make the same number, and the desk must have stored
// exactly that many.
func groupStored(dsn string, orders int) (inCommitOrder, fewest, most int, err error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return 0, 0, 0, err
	}
	defer db.Close()
	rows, err := db.Query(`SELECT r.id, r.signature FROM custody c JOIN reports r ON r.id = c.report_id WHERE c.action = 'received' ORDER BY c.seq`)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("group the stored reports: %w", err)
	}
	defer rows.Close()
	var keys [][]campaign.Key
	for rows.Next() {
		var id, sig string
		if err := rows.Scan(&id, &sig); err != nil {
			return 0, 0, 0, err
		}
		var s campaign.Signature
		if err := json.Unmarshal([]byte(sig), &s); err != nil {
			return 0, 0, 0, fmt.Errorf("report %s: %w", id, err)
		}
		keys = append(keys, s.Keys())
	}
	if err := rows.Err(); err != nil {
		return 0, 0, 0, err
	}
	group := func(order []int) int {
		p := campaign.NewPartition()
		n := 0
		for _, i := range order {
			pl := p.Place(keys[i])
			if pl.Campaign == "" {
				n++
				p.Found(fmt.Sprint("c", i), int64(i), pl.NewKeys)
			}
			n -= len(pl.Merges)
		}
		return n
	}
	order := make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	inCommitOrder = group(order)
	fewest, most = inCommitOrder, inCommitOrder
	for o := range orders {
		rand.New(rand.NewPCG(uint64(o), 1)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		n := group(order)
		fewest, most = min(fewest, n), max(most, n)
	}
	return inCommitOrder, fewest, most, nil
}
