package milterd

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/d--j/go-milter"

	"github.com/accord-antispam/accord/internal/filter"
)

// pkt is one milter packet: length, command, data.
func pkt(code byte, data string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(data)+1))
	return append(append(b, code), data...)
}

// optneg is an MTA's opening: protocol 6, every action and option.
var optneg = pkt('O', string(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 6), 0x1ff), 0x1fffff)))

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// crashers are the single packets that stopped the whole process inside
// go-milter v0.10.2 (attack review 5): kept as the fuzz target's seeds in
// testdata/fuzz/FuzzMilterDoor too.
var crashers = map[string][]byte{
	"length 0":                       {0, 0, 0, 0},
	"length 0 after negotiation":     cat(optneg, []byte{0, 0, 0, 0}),
	"connect without NUL":            cat(optneg, pkt('C', "host")),
	"connect without family":         cat(optneg, pkt('C', "host\x00")),
	"mail without NUL":               cat(optneg, pkt('M', "abc")),
	"rcpt without NUL":               cat(optneg, pkt('R', "abc")),
	"length over the packet bound":   cat(optneg, []byte{0x1f, 0xff, 0xff, 0xff, 'B'}),
	"connect, then mail without NUL": cat(optneg, pkt('C', "h\x004\x00\x19192.0.2.1\x00"), pkt('M', "<a@b.example>")),
}

// throw sends raw bytes to the door as a hostile client would, then
// half-closes and reads until the door closes the connection.
func throw(t testing.TB, addr string, data []byte) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write(data)
	c.(*net.TCPConn).CloseWrite()
	io.Copy(io.Discard, c)
}

// TestMilterMalformedPacketsCloseOneConnection: each packet that used to
// panic in the protocol library (and so stop the desk, the API and every
// door with it) now closes its own connection, and the same process then
// serves an ordinary milter conversation.
func TestMilterMalformedPacketsCloseOneConnection(t *testing.T) {
	s, _, _ := start(t, filter.Config{})
	addr := s.Addr().String()
	for name, data := range crashers {
		throw(t, addr, data)
		r := send(t, addr, []string{"ana@example.org"}, hdr("after "+name), "see you at noon\r\n")
		if r.act.Type != milter.ActionAccept || added(r)["X-Spam-Flag"] != "NO" {
			t.Fatalf("after %q: %+v %v", name, r.act, added(r))
		}
	}
}

func TestCheckPacket(t *testing.T) {
	for _, tc := range []struct {
		data string
		ok   bool
	}{
		{"", false}, {"C", false}, {"Chost", false}, {"Chost\x00", false}, {"Chost\x00U", true},
		{"Chost\x004\x00\x19192.0.2.1\x00", true}, {"M", false}, {"Mabc", false}, {"M<a@b>\x00", true},
		{"M\x00", true}, {"R<c@d>", false}, {"R<c@d>\x00SIZE=1\x00", true}, {"B", true}, {"E", true}, {"L", true},
	} {
		if err := checkPacket([]byte(tc.data)); (err == nil) != tc.ok {
			t.Errorf("checkPacket(%q) = %v, want ok=%v", tc.data, err, tc.ok)
		}
	}
}

// FuzzMilterDoor throws arbitrary bytes at a live milter listener: the
// process must survive every input (a panic in the door's connection
// goroutine ends the fuzzing process, and with it the test).
func FuzzMilterDoor(f *testing.F) {
	for _, data := range crashers {
		f.Add(data)
	}
	f.Add(cat(optneg, pkt('C', "h\x004\x00\x19192.0.2.1\x00"), pkt('H', "h\x00"), pkt('M', "<a@b.example>\x00"),
		pkt('R', "<ana@example.org>\x00"), pkt('T', ""), pkt('L', "Subject\x00 hi\x00"), pkt('N', ""),
		pkt('B', filter.GTUBE+"\r\n"), pkt('E', ""), pkt('Q', "")))
	s, _, _ := start(f, filter.Config{})
	addr := s.Addr().String()
	f.Fuzz(func(t *testing.T, data []byte) {
		throw(t, addr, data)
	})
}
