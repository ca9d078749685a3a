// Command geodata builds Accord's embedded IP-to-country and IP-to-network
// database from the CSV files of the ip-location-db project:
//
//	geodata -country DIR -asn DIR -out internal/trace/geo/data/geo.bin.gz
//
// where DIR are the unpacked npm packages @ip-location-db/geo-whois-asn-country
// (CC0, from RIR delegation and whois data) and @ip-location-db/asn
// (CC BY 4.0: RouteViews, RIRs and DB-IP). tools/geodata/update.sh fetches them.
package main

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"log"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/accord-antispam/accord/internal/trace/geo"
)

type rng struct {
	start netip.Addr
	end   netip.Addr
	val   uint32
}

func main() {
	countryDir := flag.String("country", "", "unpacked @ip-location-db/geo-whois-asn-country")
	asnDir := flag.String("asn", "", "unpacked @ip-location-db/asn")
	out := flag.String("out", "internal/trace/geo/data/geo.bin.gz", "output file")
	source := flag.String("source", "", "text naming the data's origin, version and licence")
	flag.Parse()
	if *countryDir == "" || *asnDir == "" {
		log.Fatal("geodata: -country and -asn are required")
	}
	ccIndex := map[string]uint32{"--": 0}
	ccList := []string{"--"}
	ccOf := func(s string) uint32 {
		if i, ok := ccIndex[s]; ok {
			return i
		}
		ccIndex[s] = uint32(len(ccList))
		ccList = append(ccList, s)
		return ccIndex[s]
	}
	v4c := read(filepath.Join(*countryDir, "geo-whois-asn-country-ipv4.csv"), func(r []string) uint32 { return ccOf(r[2]) })
	v6c := read(filepath.Join(*countryDir, "geo-whois-asn-country-ipv6.csv"), func(r []string) uint32 { return ccOf(r[2]) })
	names := map[uint32]string{}
	asnOf := func(r []string) uint32 {
		n, err := strconv.ParseUint(r[2], 10, 32)
		if err != nil {
			log.Fatalf("geodata: bad ASN %q", r[2])
		}
		if len(r) > 3 && names[uint32(n)] == "" {
			names[uint32(n)] = r[3]
		}
		return uint32(n)
	}
	v4a := read(filepath.Join(*asnDir, "asn-ipv4.csv"), asnOf)
	v6a := read(filepath.Join(*asnDir, "asn-ipv6.csv"), asnOf)
	if len(ccList) > 255 {
		log.Fatalf("geodata: %d countries do not fit a byte", len(ccList))
	}

	f, err := os.Create(*out + ".tmp")
	if err != nil {
		log.Fatal(err)
	}
	zw, _ := gzip.NewWriterLevel(f, gzip.BestCompression)
	w := bufio.NewWriter(zw)
	w.WriteString(geo.Magic)
	putString(w, *source)
	putUvarint(w, uint64(len(ccList)))
	for _, c := range ccList {
		if len(c) != 2 {
			log.Fatalf("geodata: country code %q", c)
		}
		w.WriteString(c)
	}
	writeV4(w, v4c, true)
	writeV6(w, v6c, true)
	asns := make([]uint32, 0, len(names))
	for a := range names {
		asns = append(asns, a)
	}
	sort.Slice(asns, func(i, j int) bool { return asns[i] < asns[j] })
	putUvarint(w, uint64(len(asns)))
	for _, a := range asns {
		putUvarint(w, uint64(a))
		putString(w, names[a])
	}
	writeV4(w, v4a, false)
	writeV6(w, v6a, false)
	must(w.Flush())
	must(zw.Close())
	must(f.Close())
	must(os.Rename(*out+".tmp", *out))
	st, _ := os.Stat(*out)
	fmt.Printf("geodata: %d countries, %d+%d country ranges, %d networks, %d+%d network ranges, %d bytes\n",
		len(ccList), len(v4c), len(v6c), len(asns), len(v4a), len(v6a), st.Size())
}

func read(path string, val func([]string) uint32) []rng {
	f, err := os.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	cr := csv.NewReader(bufio.NewReaderSize(f, 1<<20))
	cr.FieldsPerRecord = -1
	var out []rng
	for {
		r, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			log.Fatalf("%s: %v", path, err)
		}
		s, err1 := netip.ParseAddr(r[0])
		e, err2 := netip.ParseAddr(r[1])
		if err1 != nil || err2 != nil {
			log.Fatalf("%s: bad range %q-%q", path, r[0], r[1])
		}
		out = append(out, rng{s, e, val(r)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].start.Less(out[j].start) })
	return out
}

// flatten turns ranges into (start, value) steps covering the space, with
// value 0 for gaps, merging neighbours of equal value.
func flatten(rs []rng, key func(netip.Addr) uint64, next func(netip.Addr) (uint64, bool)) (starts []uint64, vals []uint32) {
	emit := func(s uint64, v uint32) {
		n := len(starts)
		if n > 0 && starts[n-1] == s {
			// Same /64 in IPv6: keep the first range that claimed it.
			return
		}
		if n > 0 && vals[n-1] == v {
			return
		}
		starts = append(starts, s)
		vals = append(vals, v)
	}
	var prevEnd uint64
	havePrev := false
	for _, r := range rs {
		s := key(r.start)
		if havePrev && s > prevEnd {
			emit(prevEnd, 0)
		} else if !havePrev && s > 0 {
			emit(0, 0)
		}
		emit(s, r.val)
		e, ok := next(r.end)
		if !ok {
			return starts, vals
		}
		prevEnd, havePrev = e, true
	}
	if havePrev {
		emit(prevEnd, 0)
	}
	return starts, vals
}

func v4key(a netip.Addr) uint64 { b := a.As4(); return uint64(binary.BigEndian.Uint32(b[:])) }
func v4next(a netip.Addr) (uint64, bool) {
	k := v4key(a)
	return k + 1, k < 0xffffffff
}
func v6key(a netip.Addr) uint64 { b := a.As16(); return binary.BigEndian.Uint64(b[:8]) }
func v6next(a netip.Addr) (uint64, bool) {
	k := v6key(a)
	return k + 1, k < ^uint64(0)
}

func writeV4(w *bufio.Writer, rs []rng, byteVal bool) {
	s, v := flatten(rs, v4key, v4next)
	writeSteps(w, s, v, byteVal)
}

func writeV6(w *bufio.Writer, rs []rng, byteVal bool) {
	s, v := flatten(rs, v6key, v6next)
	writeSteps(w, s, v, byteVal)
}

func writeSteps(w *bufio.Writer, starts []uint64, vals []uint32, byteVal bool) {
	putUvarint(w, uint64(len(starts)))
	var prev uint64
	for i, s := range starts {
		putUvarint(w, s-prev)
		prev = s
		if byteVal {
			w.WriteByte(byte(vals[i]))
		} else {
			putUvarint(w, uint64(vals[i]))
		}
	}
}

func putUvarint(w *bufio.Writer, v uint64) {
	var b [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(b[:], v)
	w.Write(b[:n])
}

func putString(w *bufio.Writer, s string) {
	putUvarint(w, uint64(len(s)))
	w.WriteString(s)
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
