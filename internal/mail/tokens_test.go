package mail

import (
	"math/rand/v2"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// tokensByFields is the split tokens replaced (strings.FieldsFunc, then
// the same trimming and filter), kept to show that both cut text alike.
func tokensByFields(text string) []string {
	f := strings.FieldsFunc(text, func(r rune) bool {
		return unicode.IsSpace(r) || r == '<' || r == '>' || r == '"' || r == '\'' || r == '`' || r == '|' || r == '\u00a0'
	})
	var out []string
	for _, t := range f {
		t = strings.TrimRight(t, ".,;:!?)]}*")
		t = strings.TrimLeft(t, "([{*")
		if len(t) >= 4 && strings.Contains(t, ".") {
			out = append(out, t)
		}
	}
	return out
}

func tokenTexts() []string {
	parts := []string{"http://a.example/x", "www.example.com", "(see", "example.org).", "a.b", "x", "*", ".",
		" ", "\t", "\n", "\v", "\u00a0", "\u0085", "\u2003", "\u3000", "é", "\xff", "\xc2", "<", ">", "\"", "'", "`", "|", "…"}
	r := rand.New(rand.NewPCG(3, 4))
	texts := []string{"", " ", "a.bc", "\xc2\xa0www.x.y\xc2"}
	for n := 0; n < 2000; n++ {
		var b strings.Builder
		for k := r.IntN(16); k >= 0; k-- {
			b.WriteString(parts[r.IntN(len(parts))])
		}
		texts = append(texts, b.String())
	}
	return texts
}

func TestTokensCutAsFieldsFunc(t *testing.T) {
	for _, text := range tokenTexts() {
		if got, want := tokens(text), tokensByFields(text); !reflect.DeepEqual(got, want) && len(got)+len(want) > 0 {
			t.Fatalf("tokens(%q) = %q, want %q", text, got, want)
		}
	}
}

func FuzzTokens(f *testing.F) {
	for _, s := range tokenTexts()[:30] {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if got, want := tokens(text), tokensByFields(text); !reflect.DeepEqual(got, want) && len(got)+len(want) > 0 {
			t.Fatalf("tokens(%q) = %q, want %q", text, got, want)
		}
	})
}

// numericHostParsing is numericHost without its look at the bytes first:
// every host handed to netip.ParseAddr and then parsed part by part.
func numericHostParsing(h string) (netip.Addr, bool) {
	if ip, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
		return ip.Unmap(), true
	}
	parts := strings.Split(h, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		if p == "" {
			return netip.Addr{}, false
		}
		base := 10
		q := p
		switch {
		case strings.HasPrefix(q, "0x") || strings.HasPrefix(q, "0X"):
			base, q = 16, q[2:]
		case len(q) > 1 && q[0] == '0':
			base, q = 8, q[1:]
		}
		if q == "" {
			q = "0"
		}
		v, err := strconv.ParseUint(q, base, 32)
		if err != nil {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	var n uint64
	for i := 0; i < len(vals)-1; i++ {
		if vals[i] > 255 {
			return netip.Addr{}, false
		}
		n |= vals[i] << (8 * (3 - uint(i)))
	}
	last := vals[len(vals)-1]
	if last >= 1<<(8*(5-uint(len(vals)))) && len(vals) > 1 {
		return netip.Addr{}, false
	}
	n |= last
	if n > 0xffffffff {
		return netip.Addr{}, false
	}
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

var hostSeeds = []string{"example.com", "192.0.2.1", "[2001:db8::1]", "3232235777", "0xC0.0250.1.1", "0x7f.1", "fe80::1%eth0",
	"face.bad", "1.2.3.4.5", "01.02.03.04", "0x", "[::ffff:1.2.3.4]", "%zone", "1..2", "", "[", "0xffffffff", "4294967296", "1.2.3.256"}

func TestNumericHostAsParsing(t *testing.T) {
	for _, h := range hostSeeds {
		ip, ok := numericHost(h)
		wip, wok := numericHostParsing(h)
		if ip != wip || ok != wok {
			t.Errorf("numericHost(%q) = %v %v, want %v %v", h, ip, ok, wip, wok)
		}
	}
}

func FuzzNumericHost(f *testing.F) {
	for _, h := range hostSeeds {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, h string) {
		ip, ok := numericHost(h)
		wip, wok := numericHostParsing(h)
		if ip != wip || ok != wok {
			t.Fatalf("numericHost(%q) = %v %v, want %v %v", h, ip, ok, wip, wok)
		}
	})
}
