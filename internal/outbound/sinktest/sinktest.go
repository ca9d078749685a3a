// Package sinktest runs Postfix's smtp-sink (Debian package postfix), a
// real SMTP server that accepts mail and dumps every transaction to a
// file, for tests of the node's outbound mail. Tests only.
package sinktest

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// Binary is where Debian installs smtp-sink.
const Binary = "/usr/sbin/smtp-sink"

// Sink is a running smtp-sink.
type Sink struct {
	Addr string // 127.0.0.1:port
	dir  string
	cmd  *exec.Cmd
}

// Message is one dumped transaction.
type Message struct {
	MailFrom string
	Rcpt     []string
	Data     []byte // The message as received (smtp-sink's own Received field first).
}

// Start runs smtp-sink on a free loopback port with extra flags (such as
// "-f", "RCPT" to refuse recipients for good); it stops with the test. A
// missing smtp-sink skips the test, or fails it when ACCORD_REQUIRE_TOOLS=1.
func Start(t testing.TB, flags ...string) *Sink {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return StartAt(t, addr, flags...)
}

// StartAt is Start on a given address (a relay that comes back).
func StartAt(t testing.TB, addr string, flags ...string) *Sink {
	t.Helper()
	if _, err := os.Stat(Binary); err != nil {
		if os.Getenv("ACCORD_REQUIRE_TOOLS") == "1" {
			t.Fatalf("smtp-sink is required (apt-get install postfix): %v", err)
		}
		t.Skip("smtp-sink not installed (apt-get install postfix)")
	}
	dir, err := os.MkdirTemp("", "accord-sink-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777) // smtp-sink run as root drops to nobody
	t.Cleanup(func() { os.RemoveAll(dir) })
	args := append([]string{}, flags...)
	if os.Getuid() == 0 {
		args = append(args, "-u", "nobody")
	}
	args = append(args, "-d", filepath.Join(dir, "%Y%m%d%H%M%S."), addr, "20")
	cmd := exec.Command(Binary, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &Sink{Addr: addr, dir: dir, cmd: cmd}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if i > 100 {
			t.Fatalf("smtp-sink did not start: %v %s", err, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}

// Stop ends the sink (a relay outage).
func (s *Sink) Stop() {
	s.cmd.Process.Kill()
	s.cmd.Wait()
}

// settle is how long a transaction's file must be left unchanged before it
// counts as received.
const settle = 200 * time.Millisecond

// Messages returns the transactions received so far, oldest first.
func (s *Sink) Messages() ([]Message, error) {
	names, err := filepath.Glob(filepath.Join(s.dir, "*"))
	if err != nil {
		return nil, err
	}
	// Oldest first: by modification time (names only have seconds).
	mod := map[string]time.Time{}
	for _, n := range names {
		if fi, err := os.Stat(n); err == nil {
			mod[n] = fi.ModTime()
		}
	}
	sort.SliceStable(names, func(i, j int) bool {
		if !mod[names[i]].Equal(mod[names[j]]) {
			return mod[names[i]].Before(mod[names[j]])
		}
		return names[i] < names[j]
	})
	var out []Message
	for _, n := range names {
		// smtp-sink writes a transaction's file as the session goes (it is
		// created empty, then grows): one still being written is not a
		// message yet.
		if time.Since(mod[n]) < settle {
			continue
		}
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		var m Message
		// smtp-sink writes X-Client-*, X-Helo-Args, X-Mail-Args and
		// X-Rcpt-Args lines before the message.
		for {
			line, rest, ok := bytes.Cut(b, []byte("\n"))
			if !ok || !bytes.HasPrefix(line, []byte("X-")) || bytes.HasPrefix(line, []byte("X-Original")) {
				break
			}
			l := strings.TrimRight(string(line), "\r")
			switch {
			case strings.HasPrefix(l, "X-Mail-Args: "):
				m.MailFrom = strings.Trim(strings.Fields(strings.TrimPrefix(l, "X-Mail-Args: "))[0], "<>")
			case strings.HasPrefix(l, "X-Rcpt-Args: "):
				m.Rcpt = append(m.Rcpt, strings.Trim(strings.Fields(strings.TrimPrefix(l, "X-Rcpt-Args: "))[0], "<>"))
			case strings.HasPrefix(l, "X-Client-"), strings.HasPrefix(l, "X-Helo-Args"):
			default:
				goto done
			}
			b = rest
		}
	done:
		if len(m.Rcpt) == 0 {
			continue // No RCPT yet: the session is still under way.
		}
		m.Data = b
		out = append(out, m)
	}
	return out, nil
}

// Wait returns once n messages arrived, or fails the test after timeout.
// smtp-sink writes its files as the transaction goes, so a message counts
// once it has its recipients and two reads a poll apart agree: a file
// still being written is not returned half read.
func (s *Sink) Wait(t testing.TB, n int, timeout time.Duration) []Message {
	t.Helper()
	end := time.Now().Add(timeout)
	var prev []Message
	for {
		ms, err := s.Messages()
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) >= n && settled(prev, ms) {
			return ms
		}
		prev = ms
		if time.Now().After(end) {
			t.Fatalf("smtp sink: %d messages after %s, want %d", len(ms), timeout, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// settled reports whether every message has its recipients and is as it
// was at the previous read.
func settled(prev, ms []Message) bool {
	if len(prev) != len(ms) {
		return false
	}
	for i := range ms {
		if len(ms[i].Rcpt) == 0 || len(ms[i].Data) != len(prev[i].Data) {
			return false
		}
	}
	return true
}

func (m Message) String() string {
	return fmt.Sprintf("from <%s> to %v, %d bytes", m.MailFrom, m.Rcpt, len(m.Data))
}
