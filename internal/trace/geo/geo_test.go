package geo

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"io"
	"net/netip"
	"runtime"
	"strings"
	"testing"

	"github.com/accord-antispam/accord/internal/cputime"
)

func TestEmbeddedLookups(t *testing.T) {
	db := Embedded()
	if err := db.Err(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(db.Source(), "CC") {
		t.Errorf("Source %q does not state the licence", db.Source())
	}
	for _, c := range []struct {
		ip, cc string
		asn    uint32
	}{
		{"1.0.0.1", "AU", 13335},
		{"8.8.8.8", "US", 15169},
		{"193.120.211.219", "IE", 0}, // the corpus's Irish relay; ASN may change
		{"10.1.2.3", "", 0},
		{"127.0.0.1", "", 0},
		{"203.0.113.77", "", 0}, // documentation range inside an APNIC block
		{"2001:db8::1", "", 0},
		{"2001:4860:4860::8888", "US", 15169},
		{"::ffff:8.8.8.8", "US", 15169},
	} {
		ip := netip.MustParseAddr(c.ip)
		if got := db.Country(ip); got != c.cc {
			t.Errorf("Country(%s) = %q, want %q", c.ip, got, c.cc)
		}
		n, ok := db.Network(ip)
		if c.asn != 0 && (!ok || n.ASN != c.asn || n.Name == "") {
			t.Errorf("Network(%s) = %+v %v, want AS%d with a name", c.ip, n, ok, c.asn)
		}
		if c.cc == "" && ok {
			t.Errorf("Network(%s) = %+v for a private address", c.ip, n)
		}
	}
}

func TestLoadRejectsGarbage(t *testing.T) {
	for _, b := range [][]byte{nil, []byte("not gzip"), gz(t, []byte("ACCGEO1\n\xff\xff\xff"))} {
		if _, err := Load(bytes.NewReader(b)); err == nil {
			t.Errorf("Load(%q) succeeded", b)
		}
	}
}

func BenchmarkLoad(b *testing.B) {
	for b.Loop() {
		if err := Embedded().Err(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCountry(b *testing.B) {
	db := Embedded()
	ip := netip.MustParseAddr("193.120.211.219")
	db.Country(ip)
	for b.Loop() {
		db.Country(ip)
	}
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestDate(t *testing.T) {
	if d := Embedded().Date(); len(d) != 10 || d < "2020-01-01" {
		t.Errorf("embedded data date %q from %q", d, Embedded().Source())
	}
	for src, want := range map[string]string{
		"countries: ip-location-db geo-whois-asn-country 2.3.2026061719 (CC0-1.0)": "2026-06-17",
		"test data (CC0)":  "",
		"x 1.2.2026139912": "",
	} {
		if got := dateOf(src); got != want {
			t.Errorf("date of %q = %q, want %q", src, got, want)
		}
	}
}

// BenchmarkDate is the data's date, which every verdict names.
func BenchmarkDate(b *testing.B) {
	db := Embedded()
	b.ReportAllocs()
	for b.Loop() {
		if db.Date() == "" {
			b.Fatal("no date")
		}
	}
}

// TestNetworkNamesAsMap reads the embedded data's network names into the
// map they were kept in before, and finds each one, and no other, by
// number.
func TestNetworkNamesAsMap(t *testing.T) {
	db := Embedded()
	if err := db.Err(); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(db.data))
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(zr)
	io.ReadFull(r, make([]byte, len(Magic)))
	d := decoder{r: r}
	d.str()
	ncc := d.uv()
	io.ReadFull(r, make([]byte, 2*ncc))
	d.steps(true)
	d.steps(true)
	n := d.uv()
	want := map[uint32]string{}
	for i := uint64(0); i < n && d.err == nil; i++ {
		a := uint32(d.uv())
		want[a] = d.str()
	}
	if d.err != nil || len(want) < 1000 {
		t.Fatalf("%d names read: %v", len(want), d.err)
	}
	for a, name := range want {
		if got := db.names.name(a); got != name {
			t.Fatalf("AS%d: %q, want %q", a, got, name)
		}
		if _, ok := want[a+1]; !ok && db.names.name(a+1) != "" {
			t.Fatalf("AS%d has a name: %q", a+1, db.names.name(a+1))
		}
	}
	if got := db.names.name(0); got != want[0] {
		t.Fatalf("AS0: %q", got)
	}
}

// TestNetworkNamesRepeated: a number given twice keeps its last name.
func TestNetworkNamesRepeated(t *testing.T) {
	var buf bytes.Buffer
	put := func(v uint64) { buf.Write(binary.AppendUvarint(nil, v)) }
	for _, e := range []struct {
		a    uint64
		name string
	}{{7, "seven"}, {3, "three"}, {7, "SEVEN"}, {5, ""}, {1, "one"}} {
		put(e.a)
		put(uint64(len(e.name)))
		buf.WriteString(e.name)
	}
	d := decoder{r: bufio.NewReader(&buf)}
	n := d.asNames(5)
	for a, want := range map[uint32]string{1: "one", 3: "three", 5: "", 7: "SEVEN", 2: "", 8: ""} {
		if got := n.name(a); got != want {
			t.Errorf("AS%d: %q, want %q", a, got, want)
		}
	}
}

// BenchmarkGarbageCollection is a full collection of a process holding
// the decoded database and little else: what the database adds to every
// collection of a running node.
func BenchmarkGarbageCollection(b *testing.B) {
	db := Embedded()
	if err := db.Err(); err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	cpu0 := cputime.Process()
	for b.Loop() {
		runtime.GC()
	}
	if cpu := cputime.Process() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
	}
	runtime.KeepAlive(db)
}
