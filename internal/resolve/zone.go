package resolve

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Zone is an in-memory set of DNS records: the fixture resolver used by
// tests and by `accord check --resolver FILE`. The zero value answers
// NXDOMAIN for everything; fill it with Add* or ParseZone.
type Zone struct {
	txt  map[string][]string
	mx   map[string][]*net.MX
	ip   map[string][]net.IPAddr
	ptr  map[string][]string // keyed by the canonical text form of the IP
	fail map[string]bool     // names that answer SERVFAIL for every type
}

func canonName(name string) string {
	return strings.TrimSpace(strings.TrimRight(strings.ToLower(strings.TrimSpace(name)), "."))
}

func (z *Zone) init() {
	if z.txt == nil {
		z.txt = map[string][]string{}
		z.mx = map[string][]*net.MX{}
		z.ip = map[string][]net.IPAddr{}
		z.ptr = map[string][]string{}
		z.fail = map[string]bool{}
	}
}

// AddTXT adds one TXT record (already joined from its character strings).
func (z *Zone) AddTXT(name, text string) {
	z.init()
	n := canonName(name)
	z.txt[n] = append(z.txt[n], text)
}

// AddMX adds an MX record.
func (z *Zone) AddMX(name string, pref uint16, host string) {
	z.init()
	n := canonName(name)
	z.mx[n] = append(z.mx[n], &net.MX{Host: canonName(host) + ".", Pref: pref})
}

// AddIP adds an A or AAAA record.
func (z *Zone) AddIP(name string, ip netip.Addr) {
	z.init()
	n := canonName(name)
	z.ip[n] = append(z.ip[n], net.IPAddr{IP: ip.AsSlice()})
}

// AddPTR adds a reverse name for ip.
func (z *Zone) AddPTR(ip netip.Addr, host string) {
	z.init()
	k := ip.Unmap().String()
	z.ptr[k] = append(z.ptr[k], canonName(host)+".")
}

// AddFail makes every lookup of name fail temporarily (SERVFAIL).
func (z *Zone) AddFail(name string) {
	z.init()
	z.fail[canonName(name)] = true
}

func notFound(name string) error {
	return &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func servfail(name string) error {
	return &net.DNSError{Err: "server misbehaving", Name: name, IsTemporary: true}
}

func (z *Zone) check(ctx context.Context, name string) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	n := canonName(name)
	if z.fail[n] {
		return n, servfail(name)
	}
	return n, nil
}

// LookupTXT answers from the zone's TXT records.
func (z *Zone) LookupTXT(ctx context.Context, name string) ([]string, error) {
	n, err := z.check(ctx, name)
	if err != nil {
		return nil, err
	}
	if r := z.txt[n]; len(r) > 0 {
		return append([]string(nil), r...), nil
	}
	return nil, notFound(name)
}

// LookupMX answers from the zone's MX records, sorted by preference.
func (z *Zone) LookupMX(ctx context.Context, name string) ([]*net.MX, error) {
	n, err := z.check(ctx, name)
	if err != nil {
		return nil, err
	}
	r := z.mx[n]
	if len(r) == 0 {
		return nil, notFound(name)
	}
	out := make([]*net.MX, len(r))
	for i, m := range r {
		c := *m
		out[i] = &c
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Pref < out[j].Pref })
	return out, nil
}

// LookupIPAddr answers from the zone's A and AAAA records. An IP literal
// resolves to itself, as with the standard resolver.
func (z *Zone) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []net.IPAddr{{IP: ip.AsSlice()}}, nil
	}
	n, err := z.check(ctx, host)
	if err != nil {
		return nil, err
	}
	if r := z.ip[n]; len(r) > 0 {
		return append([]net.IPAddr(nil), r...), nil
	}
	return nil, notFound(host)
}

// LookupAddr answers from the zone's PTR records.
func (z *Zone) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return nil, &net.DNSError{Err: "unrecognized address", Name: addr}
	}
	if z.fail[reverseName(ip)] {
		return nil, servfail(addr)
	}
	if r := z.ptr[ip.Unmap().String()]; len(r) > 0 {
		return append([]string(nil), r...), nil
	}
	return nil, notFound(addr)
}

// reverseName is the in-addr.arpa or ip6.arpa name of ip, without the final dot.
func reverseName(ip netip.Addr) string {
	ip = ip.Unmap()
	var b strings.Builder
	if ip.Is4() {
		a := ip.As4()
		fmt.Fprintf(&b, "%d.%d.%d.%d.in-addr.arpa", a[3], a[2], a[1], a[0])
		return b.String()
	}
	a := ip.As16()
	const hex = "0123456789abcdef"
	for i := 15; i >= 0; i-- {
		b.WriteByte(hex[a[i]&0xf])
		b.WriteByte('.')
		b.WriteByte(hex[a[i]>>4])
		b.WriteByte('.')
	}
	b.WriteString("ip6.arpa")
	return b.String()
}

// parseReverseName turns an in-addr.arpa or ip6.arpa name into an address.
func parseReverseName(name string) (netip.Addr, bool) {
	name = canonName(name)
	if s, ok := strings.CutSuffix(name, ".in-addr.arpa"); ok {
		p := strings.Split(s, ".")
		if len(p) != 4 {
			return netip.Addr{}, false
		}
		ip, err := netip.ParseAddr(p[3] + "." + p[2] + "." + p[1] + "." + p[0])
		return ip, err == nil
	}
	if s, ok := strings.CutSuffix(name, ".ip6.arpa"); ok {
		p := strings.Split(s, ".")
		if len(p) != 32 {
			return netip.Addr{}, false
		}
		var a [16]byte
		for i := 0; i < 32; i++ {
			v, err := strconv.ParseUint(p[31-i], 16, 8)
			if err != nil || len(p[31-i]) != 1 {
				return netip.Addr{}, false
			}
			if i%2 == 0 {
				a[i/2] |= byte(v) << 4
			} else {
				a[i/2] |= byte(v)
			}
		}
		return netip.AddrFrom16(a), true
	}
	return netip.Addr{}, false
}

// LoadZone reads a fixture zone file from path.
func LoadZone(path string) (*Zone, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open zone: %w", err)
	}
	defer f.Close()
	z, err := ParseZone(f)
	if err != nil {
		return nil, fmt.Errorf("zone %s: %w", path, err)
	}
	return z, nil
}

// ParseZone reads the fixture format: one record per line,
//
//	NAME TYPE DATA
//
// with TYPE one of TXT ("quoted" character strings, joined), MX (preference
// and host), A, AAAA, PTR (NAME is an IP address or a reverse name) and
// SERVFAIL (no data: every lookup of NAME fails temporarily). Blank lines
// and lines starting with ";" or "#" are ignored. Names are case-insensitive
// and a final dot is optional.
func ParseZone(r io.Reader) (*Zone, error) {
	z := &Zone{}
	z.init()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	ln := 0
	for sc.Scan() {
		ln++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == ';' || line[0] == '#' {
			continue
		}
		if err := z.parseLine(line); err != nil {
			return nil, fmt.Errorf("line %d: %w", ln, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read zone: %w", err)
	}
	return z, nil
}

func (z *Zone) parseLine(line string) error {
	name, rest, _ := strings.Cut(line, " ")
	rest = strings.TrimLeft(rest, " \t")
	if i := strings.IndexAny(name, "\t"); i >= 0 {
		name, rest = name[:i], strings.TrimSpace(name[i:]+" "+rest)
	}
	typ, data, _ := strings.Cut(rest, " ")
	typ = strings.ToUpper(strings.TrimSpace(typ))
	data = strings.TrimSpace(data)
	if canonName(name) == "" || typ == "" {
		return fmt.Errorf("want NAME TYPE DATA, got %q", line)
	}
	for _, r := range name {
		if r <= ' ' || r == 0x7f {
			return fmt.Errorf("name %q contains a control character", name)
		}
	}
	switch typ {
	case "TXT":
		txt, err := parseCharStrings(data)
		if err != nil {
			return err
		}
		z.AddTXT(name, txt)
	case "MX":
		f := strings.Fields(data)
		if len(f) != 2 {
			return fmt.Errorf("MX wants PREFERENCE HOST, got %q", data)
		}
		p, err := strconv.ParseUint(f[0], 10, 16)
		if err != nil {
			return fmt.Errorf("MX preference %q: %w", f[0], err)
		}
		z.AddMX(name, uint16(p), f[1])
	case "A", "AAAA":
		ip, err := netip.ParseAddr(data)
		if err != nil {
			return fmt.Errorf("%s data: %w", typ, err)
		}
		if (typ == "A") != ip.Is4() {
			return fmt.Errorf("%s record with address %s", typ, ip)
		}
		z.AddIP(name, ip)
	case "PTR":
		ip, err := netip.ParseAddr(name)
		if err != nil {
			var ok bool
			if ip, ok = parseReverseName(name); !ok {
				return fmt.Errorf("PTR name %q is neither an IP address nor a reverse name", name)
			}
		}
		if data == "" {
			return fmt.Errorf("PTR without a host name")
		}
		z.AddPTR(ip, data)
	case "SERVFAIL":
		if ip, err := netip.ParseAddr(name); err == nil {
			name = reverseName(ip)
		}
		z.AddFail(name)
	default:
		return fmt.Errorf("unknown record type %q", typ)
	}
	return nil
}

// parseCharStrings joins the quoted character strings of a TXT record, as a
// resolver does for one record split into 255-byte chunks. An unquoted
// single word is accepted too.
func parseCharStrings(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("TXT without data")
	}
	if s[0] != '"' {
		if strings.ContainsAny(s, " \t\"") {
			return "", fmt.Errorf("TXT data with spaces must be quoted: %q", s)
		}
		return s, nil
	}
	var b strings.Builder
	for len(s) > 0 {
		if s[0] != '"' {
			return "", fmt.Errorf("TXT: expected a quoted string at %q", s)
		}
		i := 1
		for ; i < len(s) && s[i] != '"'; i++ {
			if s[i] == '\\' && i+1 < len(s) {
				i++
			}
			b.WriteByte(s[i])
		}
		if i >= len(s) {
			return "", fmt.Errorf("TXT: unterminated quoted string")
		}
		s = strings.TrimLeft(s[i+1:], " \t")
	}
	return b.String(), nil
}
