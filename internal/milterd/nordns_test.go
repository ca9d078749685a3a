package milterd

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/d--j/go-milter"

	"github.com/accord-antispam/accord/internal/filter"
)

// The MTA names a client without a reverse name by its address in
// brackets (or "unknown"): RDNS_NONE, in X-Spam-Status's tests. A named
// client, or one inside the operator's networks, is not.
func TestMilterNoReverseName(t *testing.T) {
	s, _, _ := start(t, filter.Config{AuthServID: "mx.example.org"})
	for _, c := range []struct {
		host, ip string
		want     bool
	}{
		{"[198.51.100.7]", "198.51.100.7", true},
		{"unknown", "198.51.100.7", true},
		{"mail.sender.example", "198.51.100.7", false},
		{"[10.1.2.3]", "10.1.2.3", false},
	} {
		cl := milter.NewClient("tcp", s.Addr().String(), milter.WithDialer(&net.Dialer{Timeout: 5 * time.Second}))
		ss, err := cl.Session(milter.NewMacroBag())
		if err != nil {
			t.Fatal(err)
		}
		for _, step := range []func() (*milter.Action, error){
			func() (*milter.Action, error) { return ss.Conn(c.host, milter.FamilyInet, 4321, c.ip) },
			func() (*milter.Action, error) { return ss.Helo("helo.example") },
			func() (*milter.Action, error) { return ss.Mail("<s@sender.example>", "") },
			func() (*milter.Action, error) { return ss.Rcpt("<ana@example.org>", "") },
			func() (*milter.Action, error) { return ss.DataStart() },
		} {
			if a, err := step(); err != nil || a.Type != milter.ActionContinue {
				t.Fatalf("%s: %+v %v", c.host, a, err)
			}
		}
		for _, h := range hdr("lunch") {
			if _, err := ss.HeaderField(h[0], h[1], nil); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := ss.HeaderEnd(); err != nil {
			t.Fatal(err)
		}
		mods, _, err := ss.BodyReadFrom(strings.NewReader("see you at noon\r\n"))
		ss.Close()
		if err != nil {
			t.Fatal(err)
		}
		status := added(result{mods: mods})["X-Spam-Status"]
		if got := strings.Contains(status, "RDNS_NONE"); got != c.want {
			t.Errorf("client %s [%s]: RDNS_NONE %v, want %v (%s)", c.host, c.ip, got, c.want, status)
		}
	}
}
