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
