package milterd

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/d--j/go-milter"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/filter"
	"github.com/accord-antispam/accord/internal/resolve"
	"github.com/accord-antispam/accord/internal/rules"
)

func listenLim(t *testing.T, addr string, lim Limits) *Server {
	t.Helper()
	lib, err := rules.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	f, err := filter.New(context.Background(), filter.Config{}, filter.Deps{Analyzer: &analysis.Analyzer{Rules: lib, Resolver: resolve.Offline{}}, Store: filter.NewMemStore()})
	if err != nil {
		t.Fatal(err)
	}
	s, err := ListenWith(addr, f, nil, lim)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// negotiated opens a connection that sends the MTA's negotiation, reads
// the answer, and then says nothing: what a local user holding the
// door's slots does.
func negotiated(t *testing.T, network, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout(network, addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.Write(optneg)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 256)); err != nil {
		t.Fatalf("negotiation: %v", err)
	}
	c.SetReadDeadline(time.Time{})
	return c
}

// A connection that negotiated and then sends no connect is closed after
// ConnectTimeout, not after the idle timeout meant for an MTA waiting on
// its SMTP client; one that sent its connect is kept.
func TestMilterConnectTimeout(t *testing.T) {
	s := listenLim(t, "127.0.0.1:0", Limits{ConnectTimeout: 300 * time.Millisecond, IdleTimeout: time.Minute})
	idle := negotiated(t, "tcp", s.Addr().String())
	started := negotiated(t, "tcp", s.Addr().String())
	started.Write(pkt('C', "h\x004\x00\x19192.0.2.1\x00"))
	// Waiting up to 15 s, not a tight bound: a loaded machine (the race
	// detector, parallel packages) can be slow to close, and the idle
	// timeout of a minute is what the check tells ConnectTimeout from.
	if !closedByServer(idle, 15*time.Second) {
		t.Error("a connection with no connect was kept past ConnectTimeout")
	}
	if closedByServer(started, time.Second) {
		t.Error("a connection that sent its connect was closed before the idle timeout")
	}
}

// closedByServer says whether the door closed c (EOF or reset) within
// wait, rather than our read deadline passing.
func closedByServer(c net.Conn, wait time.Duration) bool {
	// Whatever the door still had to say (the rest of its negotiation
	// answer, if it came in two segments) is read past: only the end of
	// the stream tells.
	c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 256)
	for {
		if _, err := c.Read(buf); err != nil {
			return !isTimeout(err)
		}
	}
}

// The MTA shares 127.0.0.1 with every local user: one who holds the
// address's share of connections, idle, no longer locks the MTA out —
// the MTA's new connection takes the place of the one idle longest.
func TestMilterIdleHoldersDoNotLockOutTheMTA(t *testing.T) {
	s := listenLim(t, "127.0.0.1:0", Limits{MaxConnsPerIP: 3})
	addr := s.Addr().String()
	var held []net.Conn
	for i := 0; i < 3; i++ {
		held = append(held, negotiated(t, "tcp", addr))
	}
	time.Sleep(1200 * time.Millisecond) // longer than connlimit's EvictAfter
	r := send(t, addr, []string{"ana@example.org"}, hdr("through"), "see you at noon\r\n")
	if r.act.Type != milter.ActionAccept || added(r)["X-Spam-Flag"] != "NO" {
		t.Fatalf("the MTA's session while the address's share was held: %+v %v", r.act, added(r))
	}
	if !closedByServer(held[0], 10*time.Second) {
		t.Error("the connection idle longest was kept")
	}
}

// On a unix socket the door is reachable by its owner and group only
// (0660), and a socket file left by a process that is gone is replaced.
func TestMilterUnixSocket(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "milter.sock")
	stale, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the stale socket is not there: %v", err)
	}
	s := listenLim(t, "unix:"+path, Limits{})
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o660 {
		t.Errorf("socket mode %v, want 0660", fi.Mode().Perm())
	}
	if _, err := ListenWith("unix:"+path, s.f, nil, Limits{}); err == nil {
		t.Error("a second door took over a socket in use")
	}
	c := milter.NewClient("unix", path, milter.WithDialer(&net.Dialer{Timeout: 5 * time.Second}))
	ses, err := c.Session(milter.NewMacroBag())
	if err != nil {
		t.Fatal(err)
	}
	defer ses.Close()
	if act, err := ses.Conn("client.example", milter.FamilyInet, 4321, "192.0.2.10"); err != nil || act.Type != milter.ActionContinue {
		t.Fatal(act, err)
	}
}

// A header over the bytes the filter reads is refused 552 5.3.4 (as one
// over its fields is), not 550; a message to more recipients than
// filter.MaxRecipients is refused 552 5.5.3, and nothing is held.
func TestMilterOversizeRefusals(t *testing.T) {
	s, _, st := start(t, filter.Config{})
	c := milter.NewClient("tcp", s.Addr().String(), milter.WithDialer(&net.Dialer{Timeout: 5 * time.Second}))
	run := func(rcpts int, subject string) *milter.Action {
		t.Helper()
		ses, err := c.Session(milter.NewMacroBag())
		if err != nil {
			t.Fatal(err)
		}
		defer ses.Close()
		ses.Conn("client.example", milter.FamilyInet, 4321, "192.0.2.10")
		ses.Helo("client.example")
		ses.Mail("<sender@client.example>", "")
		for i := 0; i < rcpts; i++ {
			ses.Rcpt(fmt.Sprintf("<u%d@example.org>", i), "")
		}
		ses.DataStart()
		ses.HeaderField("From", "s@client.example", nil)
		ses.HeaderField("Subject", subject, nil)
		ses.HeaderEnd()
		_, act, err := ses.BodyReadFrom(strings.NewReader(filter.GTUBE + "\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		return act
	}
	if a := run(1, strings.Repeat("x", 600<<10)); a.Type != milter.ActionRejectWithCode || a.SMTPCode != 552 || !strings.Contains(a.SMTPReply, "5.3.4") {
		t.Errorf("a 600 KiB header: %+v, want 552 5.3.4", a)
	}
	if a := run(filter.MaxRecipients+1, "many"); a.Type != milter.ActionRejectWithCode || a.SMTPCode != 552 || !strings.Contains(a.SMTPReply, "5.5.3") {
		t.Errorf("%d recipients: %+v, want 552 5.5.3", filter.MaxRecipients+1, a)
	}
	if held, _ := st.HeldMessages(context.Background(), filter.HeldFilter{}); len(held) != 0 {
		t.Errorf("%d held", len(held))
	}
}

// The milter reserves the body's bytes of the filter's byte budget as
// chunks arrive and returns them when the message ends; a body that finds
// the budget taken is not kept, and the message is decided as busy
// (fail-open with skipped: busy by default).
func TestMilterBodyBudget(t *testing.T) {
	s, f, _ := start(t, filter.Config{BodyBudget: 4096})
	addr := s.Addr().String()
	r := send(t, addr, []string{"ana@example.org"}, hdr("fits"), "see you at noon\r\n")
	if r.act.Type != milter.ActionAccept || added(r)["X-Spam-Flag"] != "NO" {
		t.Fatalf("within the budget: %+v %v", r.act, added(r))
	}
	if now, peak := f.BodyBytes(); now != 0 || peak == 0 {
		t.Errorf("after a message: %d bytes reserved, peak %d", now, peak)
	}
	f.Reserve(context.Background(), 4096)
	r = send(t, addr, []string{"ana@example.org"}, hdr("over"), "see you at noon\r\n")
	if r.act.Type != milter.ActionAccept || !strings.HasPrefix(added(r)["X-Accord-Filter"], "skipped: busy") {
		t.Errorf("with the budget taken: %+v %v", r.act, added(r))
	}
	f.Unreserve(4096)
	if now, _ := f.BodyBytes(); now != 0 {
		t.Errorf("%d bytes still reserved", now)
	}
}
