package connlimit

import (
	"bufio"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// serve accepts on a bounded loopback listener and keeps every
// connection open, greeting it with "hello".
func serve(t *testing.T, lim Limits) (*Listener, string) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lim.Refuse = func(c net.Conn, why string) { io.WriteString(c, "refused: "+why+"\n") }
	bl := Wrap(l, lim)
	t.Cleanup(func() { bl.Close() })
	go func() {
		for {
			c, err := bl.Accept()
			if err != nil {
				return
			}
			go func() {
				io.WriteString(c, "hello\n")
				io.Copy(io.Discard, c) // until the client closes
				c.Close()
			}()
		}
	}()
	return bl, l.Addr().String()
}

// dialFrom connects from a loopback address of our choosing and returns
// the first line the server says.
func dialFrom(t *testing.T, from, addr string) (net.Conn, string) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	return c, strings.TrimSpace(line)
}

func TestOneClientCannotTakeEverySlot(t *testing.T) {
	_, addr := serve(t, Limits{Max: 5, PerIP: 2})
	for i := 0; i < 2; i++ {
		if _, got := dialFrom(t, "127.0.0.2", addr); got != "hello" {
			t.Fatalf("connection %d: %q", i, got)
		}
	}
	if _, got := dialFrom(t, "127.0.0.2", addr); got != "refused: too many connections from one address" {
		t.Fatalf("third from one address: %q", got)
	}
	// Others still get in, up to the whole bound.
	c3, got := dialFrom(t, "127.0.0.3", addr)
	if got != "hello" {
		t.Fatalf("another client: %q", got)
	}
	dialFrom(t, "127.0.0.3", addr)
	dialFrom(t, "127.0.0.4", addr)
	if _, got := dialFrom(t, "127.0.0.5", addr); got != "refused: too many connections" {
		t.Fatalf("over the whole bound: %q", got)
	}
	// A closed connection gives its slot back.
	c3.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, got := dialFrom(t, "127.0.0.5", addr)
		if got == "hello" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the slot of a closed connection never came back: %q", got)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestExemptPeersAreBoundOnlyInAll(t *testing.T) {
	_, addr := serve(t, Limits{Max: 4, PerIP: 1, Exempt: []netip.Prefix{netip.MustParsePrefix("127.0.0.9/32")}})
	for i := 0; i < 4; i++ {
		if _, got := dialFrom(t, "127.0.0.9", addr); got != "hello" {
			t.Fatalf("balancer connection %d: %q", i, got)
		}
	}
	if _, got := dialFrom(t, "127.0.0.9", addr); got != "refused: too many connections" {
		t.Fatalf("past the whole bound: %q", got)
	}
}

func TestMaxLifeEndsATricklingClient(t *testing.T) {
	_, addr := serve(t, Limits{MaxLife: 300 * time.Millisecond})
	c, got := dialFrom(t, "127.0.0.2", addr)
	if got != "hello" {
		t.Fatal(got)
	}
	// The server's side closes at the end of the life: our read ends
	// with EOF (not our own deadline).
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		c.Write([]byte("x"))
		_, err := c.Read(make([]byte, 1))
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatal("the connection outlived its life")
			}
			return
		}
	}
}

// closedByServer says whether the server's side of c closed (EOF or a
// reset) within five seconds (closing is at once; a loaded machine is
// slow), rather than our read deadline passing.
func closedByServer(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return err != nil
}

// With Evict, a client holding its address's share with idle connections
// cannot lock out another client of the same address (a filter door's
// MTA and a local user are both 127.0.0.1): the new connection takes the
// place of the one that waited longest, if it waited EvictAfter.
func TestEvictTakesTheIdlestPlace(t *testing.T) {
	l, addr := serve(t, Limits{Max: 10, PerIP: 2, Evict: true, EvictAfter: 150 * time.Millisecond})
	a, _ := dialFrom(t, "127.0.0.2", addr)
	time.Sleep(50 * time.Millisecond)
	b, _ := dialFrom(t, "127.0.0.2", addr)
	time.Sleep(300 * time.Millisecond)
	if _, got := dialFrom(t, "127.0.0.2", addr); got != "hello" {
		t.Fatalf("a third connection at the bound, with two idle ones: %q", got)
	}
	if !closedByServer(a) {
		t.Error("the connection idle longest was not closed")
	}
	// b has waited longest now; the new one has not waited at all.
	if _, got := dialFrom(t, "127.0.0.2", addr); got != "hello" {
		t.Fatalf("a fourth: %q", got)
	}
	if !closedByServer(b) {
		t.Error("the second idlest was not closed")
	}
	// Both remaining connections are fresh: nobody is evicted, the new
	// one is refused as before.
	if _, got := dialFrom(t, "127.0.0.2", addr); got != "refused: too many connections from one address" {
		t.Fatalf("at the bound with only fresh connections: %q", got)
	}
	// Another address's connections are not taken for this one's bound.
	if _, got := dialFrom(t, "127.0.0.3", addr); got != "hello" {
		t.Fatal(got)
	}
	if all, one := l.Open("127.0.0.2"); all != 3 || one != 2 {
		t.Errorf("open: %d in all, %d from 127.0.0.2; want 3 and 2", all, one)
	}
}

// A connection marked Busy (a door scanning its message) is not idle even
// while something reads from it in the background.
func TestEvictSparesBusyConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bl := Wrap(ln, Limits{PerIP: 1, Evict: true, EvictAfter: 50 * time.Millisecond,
		Refuse: func(c net.Conn, why string) { io.WriteString(c, "refused\n") }})
	t.Cleanup(func() { bl.Close() })
	go func() {
		for {
			c, err := bl.Accept()
			if err != nil {
				return
			}
			Busy(c)
			io.WriteString(c, "hello\n")
			go io.Copy(io.Discard, c)
		}
	}()
	addr := ln.Addr().String()
	dialFrom(t, "127.0.0.2", addr)
	time.Sleep(200 * time.Millisecond)
	if _, got := dialFrom(t, "127.0.0.2", addr); got != "refused" {
		t.Fatalf("a busy connection was evicted: %q", got)
	}
}
