// Package geo maps IP addresses to the country (ISO 3166-1 alpha-2) and the
// network (autonomous system number and name) they are registered to, from a
// database embedded in the binary, so trace-back works with no network.
//
// The data comes from the ip-location-db project: countries from the Regional
// Internet Registries' delegation files and whois (CC0; NRO data CC BY 4.0),
// networks from RouteViews, the RIRs and DB-IP (CC BY 4.0). Registration is
// not location: a country here is where the address block is registered,
// which is what an authority needs to know whom to ask.
//
// tools/geodata rebuilds the database; Source says which version is embedded.
package geo

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
)

//go:embed data/geo.bin.gz
var embedded []byte

// Network is an autonomous system.
type Network struct {
	ASN  uint32 `json:"asn"`
	Name string `json:"name,omitempty"`
}

// DB answers lookups. It is safe for concurrent use; the data is decoded on
// the first lookup.
type DB struct {
	data   []byte
	once   sync.Once
	err    error
	source string
	// hdrOnce and hdr hold the source read alone (Date), apart from the
	// full decode; data stays referenced for it.
	hdrOnce sync.Once
	hdr     string
	date    string // dateOf(hdr): every verdict names it
	cc      []string
	v4c     table
	v6c     table
	names   asNames
	v4a     table
	v6a     table
}

type table struct {
	starts []uint64
	vals   []uint32
}

func (t *table) find(k uint64) uint32 {
	i := sort.Search(len(t.starts), func(i int) bool { return t.starts[i] > k }) - 1
	if i < 0 {
		return 0
	}
	return t.vals[i]
}

// Embedded returns the database compiled into the binary.
func Embedded() *DB { return &DB{data: embedded} }

// Load reads a database in the same format from r (for a newer file than the
// embedded one).
func Load(r io.Reader) (*DB, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read geo database: %w", err)
	}
	db := &DB{data: b}
	if err := db.load(); err != nil {
		return nil, err
	}
	return db, nil
}

func (db *DB) load() error {
	db.once.Do(func() { db.err = db.decode() })
	return db.err
}

var errFormat = errors.New("geo: not an Accord geo database")

func (db *DB) decode() error {
	zr, err := gzip.NewReader(bytes.NewReader(db.data))
	if err != nil {
		return fmt.Errorf("%w: %v", errFormat, err)
	}
	r := bufio.NewReaderSize(zr, 1<<16)
	magic := make([]byte, len(Magic))
	if _, err := io.ReadFull(r, magic); err != nil || string(magic) != Magic {
		return errFormat
	}
	d := decoder{r: r}
	db.source = d.str()
	n := d.uv()
	db.cc = make([]string, 0, n)
	for i := uint64(0); i < n && d.err == nil; i++ {
		var b [2]byte
		_, d.err = io.ReadFull(r, b[:])
		db.cc = append(db.cc, string(b[:]))
	}
	db.v4c = d.steps(true)
	db.v6c = d.steps(true)
	n = d.uv()
	db.names = d.asNames(n)
	db.v4a = d.steps(false)
	db.v6a = d.steps(false)
	if d.err != nil {
		return fmt.Errorf("geo: corrupt database: %w", d.err)
	}
	return nil
}

// header reads only the source line at the start of the data, so that a
// verdict can name the data's date without decoding every table.
func (db *DB) header() string {
	db.hdrOnce.Do(func() {
		zr, err := gzip.NewReader(bytes.NewReader(db.data))
		if err != nil {
			return
		}
		r := bufio.NewReaderSize(zr, 4<<10)
		magic := make([]byte, len(Magic))
		if _, err := io.ReadFull(r, magic); err != nil || string(magic) != Magic {
			return
		}
		d := decoder{r: r}
		if s := d.str(); d.err == nil {
			db.hdr = s
			db.date = dateOf(s)
		}
	})
	return db.hdr
}

type decoder struct {
	r   *bufio.Reader
	err error
}

func (d *decoder) uv() uint64 {
	if d.err != nil {
		return 0
	}
	v, err := binary.ReadUvarint(d.r)
	d.err = err
	return v
}

func (d *decoder) str() string {
	n := d.uv()
	if d.err != nil || n > 1<<20 {
		if d.err == nil {
			d.err = errors.New("string too long")
		}
		return ""
	}
	b := make([]byte, n)
	_, d.err = io.ReadFull(d.r, b)
	return string(b)
}

// asNames are the networks' names by number: the numbers sorted, each
// name a slice of one string. A map of ninety thousand strings held as
// many pointers, which every garbage collection of the process followed;
// these hold none.
type asNames struct {
	asns []uint32 // ascending
	ends []uint32 // name k is text[ends[k-1]:ends[k]] (ends[-1] = 0)
	text string
}

func (n *asNames) name(a uint32) string {
	k, ok := slices.BinarySearch(n.asns, a)
	if !ok {
		return ""
	}
	start := uint32(0)
	if k > 0 {
		start = n.ends[k-1]
	}
	return n.text[start:n.ends[k]]
}

// asNames reads n (number, name) pairs; a number given twice keeps its
// last name.
func (d *decoder) asNames(n uint64) asNames {
	type entry struct {
		asn        uint32
		start, end uint32
	}
	var text strings.Builder
	entries := make([]entry, 0, min(n, 1<<20))
	for i := uint64(0); i < n && d.err == nil; i++ {
		a := uint32(d.uv())
		s := d.str()
		start := uint32(text.Len())
		text.WriteString(s)
		entries = append(entries, entry{a, start, uint32(text.Len())})
	}
	slices.SortStableFunc(entries, func(x, y entry) int { return cmp.Compare(x.asn, y.asn) })
	out := asNames{text: text.String()}
	// Names in number order, one string, the last of a repeated number.
	var b strings.Builder
	b.Grow(text.Len())
	for k, e := range entries {
		if k+1 < len(entries) && entries[k+1].asn == e.asn {
			continue
		}
		b.WriteString(out.text[e.start:e.end])
		out.asns = append(out.asns, e.asn)
		out.ends = append(out.ends, uint32(b.Len()))
	}
	out.text = b.String()
	return out
}

func (d *decoder) steps(byteVal bool) table {
	n := d.uv()
	if n > 1<<24 {
		d.err = errors.New("table too large")
		return table{}
	}
	t := table{starts: make([]uint64, 0, n), vals: make([]uint32, 0, n)}
	var prev uint64
	for i := uint64(0); i < n && d.err == nil; i++ {
		prev += d.uv()
		var v uint32
		if byteVal {
			b, err := d.r.ReadByte()
			d.err = err
			v = uint32(b)
		} else {
			v = uint32(d.uv())
		}
		t.starts = append(t.starts, prev)
		t.vals = append(t.vals, v)
	}
	return t
}

// Source says where the data came from and under which licence.
func (db *DB) Source() string {
	if db.load() != nil {
		return ""
	}
	return db.source
}

// Date returns the date of the data (YYYY-MM-DD), read from the release
// named in Source ("ip-location-db … 2.3.2026061719"), or "" when Source
// names none. A verdict carries it: a country is only as good as the day
// its registry data was taken.
func (db *DB) Date() string {
	db.header()
	return db.date
}

func dateOf(src string) string {
	for _, f := range strings.FieldsFunc(src, func(r rune) bool { return r == ' ' || r == '(' || r == ')' || r == ';' || r == ',' }) {
		parts := strings.Split(f, ".")
		last := parts[len(parts)-1]
		if len(parts) < 2 || len(last) < 8 || !digits(last) {
			continue
		}
		d := last[:8]
		if d[4:6] < "01" || d[4:6] > "12" || d[6:8] < "01" || d[6:8] > "31" {
			continue
		}
		return d[:4] + "-" + d[4:6] + "-" + d[6:8]
	}
	return ""
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// Err reports a database that could not be decoded.
func (db *DB) Err() error { return db.load() }

// special are the IANA special-purpose ranges (RFC 6890 and successors):
// documentation, benchmarking, private, shared and reserved space. Some of
// them sit inside blocks the registries list, but none is anybody's network.
var special = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("169.254.0.0/16"), netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.0.0.0/24"), netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("198.18.0.0/15"), netip.MustParsePrefix("198.51.100.0/24"), netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("224.0.0.0/3"), netip.MustParsePrefix("::/8"), netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("fc00::/7"), netip.MustParsePrefix("fe80::/10"), netip.MustParsePrefix("ff00::/8"),
}

// Special reports whether ip is in a special-purpose range that belongs to
// no network on the Internet.
func Special(ip netip.Addr) bool {
	ip = ip.Unmap()
	for _, p := range special {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Country returns the ISO 3166-1 alpha-2 code of the country the address is
// registered in, or "" when unknown (private, reserved, unallocated).
func (db *DB) Country(ip netip.Addr) string {
	if db == nil || !ip.IsValid() || Special(ip) || db.load() != nil {
		return ""
	}
	ip = ip.Unmap()
	var i uint32
	if ip.Is4() {
		i = db.v4c.find(key4(ip))
	} else {
		i = db.v6c.find(key6(ip))
	}
	if i == 0 || int(i) >= len(db.cc) {
		return ""
	}
	return db.cc[i]
}

// Network returns the autonomous system announcing the address, if known.
func (db *DB) Network(ip netip.Addr) (Network, bool) {
	if db == nil || !ip.IsValid() || Special(ip) || db.load() != nil {
		return Network{}, false
	}
	ip = ip.Unmap()
	var a uint32
	if ip.Is4() {
		a = db.v4a.find(key4(ip))
	} else {
		a = db.v6a.find(key6(ip))
	}
	if a == 0 {
		return Network{}, false
	}
	return Network{ASN: a, Name: db.names.name(a)}, true
}

func key4(ip netip.Addr) uint64 { b := ip.As4(); return uint64(binary.BigEndian.Uint32(b[:])) }
func key6(ip netip.Addr) uint64 { b := ip.As16(); return binary.BigEndian.Uint64(b[:8]) }
