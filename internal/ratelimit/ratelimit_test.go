package ratelimit

import (
	"fmt"
	"testing"
	"time"
)

// clock is a test clock that moves only when told.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestBucketOnAnInjectedClock(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)}
	l := PerMinute(3, c.now)
	var got []bool
	for i := 0; i < 5; i++ {
		ok, _ := l.Allow("a")
		got = append(got, ok)
	}
	if fmt.Sprint(got) != "[true true true false false]" {
		t.Fatalf("burst: %v", got)
	}
	// One token comes back every 20 s: the wait says so, and it is exact.
	if ok, wait := l.Allow("a"); ok || wait != 20*time.Second {
		t.Fatalf("wait %v %v, want 20s", ok, wait)
	}
	c.t = c.t.Add(19 * time.Second)
	if ok, _ := l.Allow("a"); ok {
		t.Fatal("a token after 19 s")
	}
	c.t = c.t.Add(time.Second)
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("no token after 20 s")
	}
	// Other keys have their own bucket.
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("key b limited by a")
	}
	// A clock that goes back refills nothing and breaks nothing.
	c.t = c.t.Add(-time.Hour)
	if ok, _ := l.Allow("a"); ok {
		t.Fatal("a token from a clock going back")
	}
	var off *Limiter = PerMinute(0, nil)
	if ok, _ := off.Allow("x"); !ok {
		t.Fatal("a limit of 0 is off")
	}
}

func TestKeyCountsIPv6ByItsSlash64(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"192.0.2.7", "192.0.2.7"},
		{"::ffff:192.0.2.7", "192.0.2.7"},
		{"2001:db8:1:2::1", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:fffe", "2001:db8:1:2::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"not an address", "not an address"},
	} {
		if got := Key(c.in); got != c.want {
			t.Errorf("Key(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	// A /64 shares one bucket however many addresses it uses.
	l := PerMinute(2, (&clock{t: time.Unix(0, 0)}).now)
	n := 0
	for i := 0; i < 10; i++ {
		if ok, _ := l.Allow(Key(fmt.Sprintf("2001:db8:1:2::%x", i+1))); ok {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("%d allowed from one /64, want 2", n)
	}
}
