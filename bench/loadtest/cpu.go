package main

import (
	"bufio"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of /proc's CPU times (USER_HZ), 100 on Linux.
const clockTick = 10 * time.Millisecond

// machineTicks is the machine's CPU time so far, all CPUs together, and
// the idle part of it (/proc/stat).
func machineTicks() (total, idle uint64) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, 0
	}
	fields := strings.Fields(sc.Text())
	for i, v := range fields[1:] {
		n, _ := strconv.ParseUint(v, 10, 64)
		total += n
		if i == 3 || i == 4 { // idle, iowait
			idle += n
		}
	}
	return total, idle
}

// processCPU is the CPU time a process has used (user and system).
func processCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	k, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+k) * clockTick
}

// cpuWatch measures, over one load, how idle the machine stayed and the
// CPU the serve processes used.
type cpuWatch struct {
	total, idle uint64
	pids        []int
	cpu, delay  []time.Duration
}

func watchCPU(nodes []*node) *cpuWatch {
	w := &cpuWatch{}
	w.total, w.idle = machineTicks()
	for _, n := range nodes {
		w.pids = append(w.pids, n.cmd.Process.Pid)
		w.cpu = append(w.cpu, processCPU(n.cmd.Process.Pid))
		w.delay = append(w.delay, runDelay(n.cmd.Process.Pid))
	}
	return w
}

// waited is how long the serve processes' threads were ready to run but
// waited for a CPU since watchCPU (the scheduler's run delay, throttling
// by a CPU cap included): beside the CPU they used, it says whether they
// were held back by the machine (or their cap) rather than by the work.
func (w *cpuWatch) waited() time.Duration {
	var t time.Duration
	for i, pid := range w.pids {
		if d := runDelay(pid); d >= w.delay[i] {
			t += d - w.delay[i]
		}
	}
	return t
}

// runDelay is the time a process's threads have waited on a run queue so
// far (/proc/PID/task/*/schedstat, second field, nanoseconds).
func runDelay(pid int) time.Duration {
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	var t time.Duration
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, task.Name()))
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) >= 2 {
			ns, _ := strconv.ParseInt(f[1], 10, 64)
			t += time.Duration(ns)
		}
	}
	return t
}

// done returns the machine's idle share (percent) since watchCPU and the
// CPU time the serve processes used (those still running).
func (w *cpuWatch) done() (idlePct float64, serve time.Duration) {
	total, idle := machineTicks()
	if total > w.total {
		idlePct = 100 * float64(idle-w.idle) / float64(total-w.total)
	}
	for i, pid := range w.pids {
		if c := processCPU(pid); c >= w.cpu[i] {
			serve += c - w.cpu[i]
		}
	}
	return idlePct, serve
}

// commitSizes reads a node's group commits so far from /metrics: how many,
// how many complaints they held, and how many started again (another
// instance took a key they had read).
func commitSizes(n *node) (commits, complaints, restarts float64) {
	req, _ := http.NewRequest("GET", "http://"+n.http+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+n.metrics)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, 0
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		name, v, ok := strings.Cut(sc.Text(), " ")
		if !ok {
			continue
		}
		x, _ := strconv.ParseFloat(v, 64)
		switch name {
		case "accord_intake_commit_complaints_count":
			commits = x
		case "accord_intake_commit_complaints_sum":
			complaints = x
		case "accord_intake_commit_restarts_total":
			restarts = x
		}
	}
	return commits, complaints, restarts
}

// cpuCap is a control group that limits the processes put in it to a
// share of one CPU (CFS bandwidth: quota per 100 ms period), cgroup v2 or
// v1, whichever the machine has writable (as root).
type cpuCap struct {
	dir   string
	v2    bool
	share float64
}

const cfsPeriod = 100000 // µs

func newCPUCap(name string, share float64) (*cpuCap, error) {
	quota := strconv.Itoa(int(share * cfsPeriod))
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		// cgroup v2 at the root: the cpu controller must be on for the
		// children.
		os.WriteFile("/sys/fs/cgroup/cgroup.subtree_control", []byte("+cpu"), 0)
		c := &cpuCap{dir: filepath.Join("/sys/fs/cgroup", name), v2: true, share: share}
		if err := os.Mkdir(c.dir, 0o755); err != nil {
			return nil, fmt.Errorf("cgroup v2: %w", err)
		}
		if err := os.WriteFile(filepath.Join(c.dir, "cpu.max"), []byte(quota+" "+strconv.Itoa(cfsPeriod)), 0); err != nil {
			os.Remove(c.dir)
			return nil, fmt.Errorf("cgroup v2 cpu.max: %w", err)
		}
		return c, nil
	}
	if _, err := os.Stat("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"); err == nil {
		c := &cpuCap{dir: filepath.Join("/sys/fs/cgroup/cpu", name), share: share}
		if err := os.Mkdir(c.dir, 0o755); err != nil {
			return nil, fmt.Errorf("cgroup v1: %w", err)
		}
		err := errors.Join(os.WriteFile(filepath.Join(c.dir, "cpu.cfs_period_us"), []byte(strconv.Itoa(cfsPeriod)), 0),
			os.WriteFile(filepath.Join(c.dir, "cpu.cfs_quota_us"), []byte(quota), 0))
		if err != nil {
			os.Remove(c.dir)
			return nil, fmt.Errorf("cgroup v1 quota: %w", err)
		}
		return c, nil
	}
	return nil, errors.New("no cgroup cpu controller found")
}

// add moves a process (all its threads) into the group.
func (c *cpuCap) add(pid int) error {
	return os.WriteFile(filepath.Join(c.dir, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0)
}

// throttled is how long the group's processes have waited for their
// quota so far: a group that waits is bound by its share.
func (c *cpuCap) throttled() time.Duration {
	b, err := os.ReadFile(filepath.Join(c.dir, "cpu.stat"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, " ")
		n, _ := strconv.ParseInt(v, 10, 64)
		switch k {
		case "throttled_usec": // v2
			return time.Duration(n) * time.Microsecond
		case "throttled_time": // v1, ns
			return time.Duration(n)
		}
	}
	return 0
}

// remove deletes the group once its processes are gone.
func (c *cpuCap) remove() {
	for i := 0; i < 50; i++ {
		if err := os.Remove(c.dir); err == nil || os.IsNotExist(err) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// serverCPU returns a function giving the CPU time the PostgreSQL server
// behind dsn has used so far: its postmaster and every backend, those
// still running and those ended (the postmaster's children's times). It
// returns nil when the server's processes cannot be read (another
// machine, another user).
func serverCPU(dsn string) func() time.Duration {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil
	}
	defer db.Close()
	var dir string
	if err := db.QueryRow(`SHOW data_directory`).Scan(&dir); err != nil {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		return nil
	}
	pm, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil {
		return nil
	}
	return func() time.Duration {
		total := procTimes(pm, true)
		entries, _ := os.ReadDir("/proc")
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == pm {
				continue
			}
			if procParent(pid) == pm {
				total += procTimes(pid, false)
			}
		}
		return total
	}
}

// procTimes is a process's user and system time, with its waited-for
// children's when children is set.
func procTimes(pid int, children bool) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 15 {
		return 0
	}
	var t int64
	n := 13
	if children {
		n = 15
	}
	for _, v := range f[11:n] {
		x, _ := strconv.ParseInt(v, 10, 64)
		t += x
	}
	return time.Duration(t) * clockTick
}

// procParent is a process's parent pid.
func procParent(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 2 {
		return 0
	}
	p, _ := strconv.Atoi(f[1])
	return p
}
