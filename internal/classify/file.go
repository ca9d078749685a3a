package classify

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
)

// The model file: a magic line, a version, the parameters and counters, the
// weight and count tables (little-endian), the learned-message digests, the
// kept learned messages (version 2: each a length and its encoded Sample),
// and a CRC-32 of everything before it. Version 3 adds, after the first
// header, the weight of the count learner's header witness (model.go);
// versions 1 and 2 read with that weight 0, so they decide as they did. Saving writes a temporary file in the
// same folder, syncs it and renames it over the old one, so a crash never
// leaves a half-written model.
const (
	fileMagic   = "ACCORD-MODEL\n"
	fileVersion = 3
)

// MaxBits bounds the feature table (2^24 slots, 128 MiB): a new model is
// never larger, and a damaged or hostile file cannot make Read allocate
// without limit.
const MaxBits = 24

// ErrNotModel is returned for files that are not Accord models.
var ErrNotModel = errors.New("classify: not an Accord model file")

type header struct {
	Version    uint32
	Bits       uint32
	Window     uint32
	MinTrained uint32
	HamBelow   float64
	SpamFrom   float64
	Rate       float64
	Thick      float64
	NSpam      uint32
	NHam       uint32
	Bias       float32
	NBWeight   float32
	SeenBits   uint32
	SeenCount  uint32
}

// header3 follows header in version 3 files.
type header3 struct {
	HeadWeight float32
}

// header2 follows the tables in version 2 and 3 files.
type header2 struct {
	Unkept uint32
	Kept   uint32
}

// maxSampleBytes bounds one encoded kept message in a file.
const maxSampleBytes = 64 << 10

// WriteTo writes the model in the file format.
func (m *Model) WriteTo(w io.Writer) (int64, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.writeTo(w)
}

// writeTo writes the model; the caller holds the read lock.
func (m *Model) writeTo(w io.Writer) (int64, error) {
	crc := crc32.NewIEEE()
	cw := &countWriter{w: io.MultiWriter(w, crc)}
	bw := bufio.NewWriterSize(cw, 1<<20)
	h := header{
		Version: fileVersion, Bits: uint32(m.p.Bits), Window: uint32(m.p.Window), MinTrained: uint32(m.p.MinTrained),
		HamBelow: m.p.HamBelow, SpamFrom: m.p.SpamFrom, Rate: m.p.Rate, Thick: m.p.Thick,
		NSpam: m.nSpam, NHam: m.nHam, Bias: m.bias, NBWeight: m.nbW,
		SeenBits: uint32(m.seen.bits), SeenCount: uint32(m.seen.n),
	}
	bw.WriteString(fileMagic)
	if err := binary.Write(bw, binary.LittleEndian, h); err != nil {
		return cw.n, fmt.Errorf("write model: %w", err)
	}
	if err := binary.Write(bw, binary.LittleEndian, header3{HeadWeight: m.nbWH}); err != nil {
		return cw.n, fmt.Errorf("write model: %w", err)
	}
	writeTables(bw, m)
	if err := writeKept(bw, m); err != nil {
		return cw.n, fmt.Errorf("write model: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return cw.n, fmt.Errorf("write model: %w", err)
	}
	if err := binary.Write(w, binary.LittleEndian, crc.Sum32()); err != nil {
		return cw.n, fmt.Errorf("write model: %w", err)
	}
	return cw.n + 4, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Read reads a model written by WriteTo, checking its format, version,
// sizes and checksum.
func Read(r io.Reader) (*Model, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	magic := make([]byte, len(fileMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != fileMagic {
		return nil, ErrNotModel
	}
	var h header
	if err := binary.Read(br, binary.LittleEndian, &h); err != nil {
		return nil, fmt.Errorf("classify: truncated model header: %w", err)
	}
	if h.Version < 1 || h.Version > fileVersion {
		return nil, fmt.Errorf("classify: model file version %d; this accord reads versions 1 to %d (retrain with `accord learn`)", h.Version, fileVersion)
	}
	if h.Bits < 10 || h.Bits > MaxBits || h.SeenBits < 4 || h.SeenBits > 20 {
		return nil, fmt.Errorf("classify: corrupt model: table size 2^%d, digest table 2^%d", h.Bits, h.SeenBits)
	}
	m := New(Params{Bits: int(h.Bits), Window: int(h.Window), MinTrained: int(h.MinTrained),
		HamBelow: h.HamBelow, SpamFrom: h.SpamFrom, Rate: h.Rate, Thick: h.Thick})
	m.nSpam, m.nHam, m.bias, m.nbW = h.NSpam, h.NHam, h.Bias, h.NBWeight
	if h.Version >= 3 {
		var h3 header3
		if err := binary.Read(br, binary.LittleEndian, &h3); err != nil {
			return nil, fmt.Errorf("classify: truncated model header: %w", err)
		}
		if math.IsNaN(float64(h3.HeadWeight)) || math.IsInf(float64(h3.HeadWeight), 0) || h3.HeadWeight < 0 {
			return nil, fmt.Errorf("classify: corrupt model: header witness weight %v", h3.HeadWeight)
		}
		m.nbWH = h3.HeadWeight
	}
	m.seen = newDigestSet(uint(h.SeenBits))
	m.seen.n = int(h.SeenCount)
	if err := readTables(br, m); err != nil {
		return nil, fmt.Errorf("classify: truncated model: %w", err)
	}
	if h.Version == 1 {
		m.unkept = m.nSpam + m.nHam // a version 1 model kept nothing
	} else if err := readKept(br, m); err != nil {
		return nil, err
	}
	rest, err := io.ReadAll(io.LimitReader(br, 8))
	if err != nil {
		return nil, fmt.Errorf("classify: read model: %w", err)
	}
	if len(rest) != 4 {
		return nil, fmt.Errorf("classify: corrupt model: %d trailing bytes", len(rest))
	}
	want := binary.LittleEndian.Uint32(rest)
	check := crcOf
	switch h.Version {
	case 1:
		check = crcV1
	case 2:
		check = crcV2
	}
	if got := check(m, h); got != want {
		return nil, fmt.Errorf("classify: corrupt model: checksum %08x, file says %08x", got, want)
	}
	return m, nil
}

// crcOf recomputes the checksum of a decoded model's serialised form.
func crcOf(m *Model, h header) uint32 {
	crc := crc32.NewIEEE()
	bw := bufio.NewWriterSize(crc, 1<<20)
	bw.WriteString(fileMagic)
	binary.Write(bw, binary.LittleEndian, h)
	binary.Write(bw, binary.LittleEndian, header3{HeadWeight: m.nbWH})
	writeTables(bw, m)
	writeKept(bw, m)
	bw.Flush()
	return crc.Sum32()
}

// crcV2 checks a version 2 file, which had no header witness weight.
func crcV2(m *Model, h header) uint32 {
	crc := crc32.NewIEEE()
	bw := bufio.NewWriterSize(crc, 1<<20)
	bw.WriteString(fileMagic)
	binary.Write(bw, binary.LittleEndian, h)
	writeTables(bw, m)
	writeKept(bw, m)
	bw.Flush()
	return crc.Sum32()
}

// crcV1 checks a version 1 file, which had no kept section.
func crcV1(m *Model, h header) uint32 {
	crc := crc32.NewIEEE()
	bw := bufio.NewWriterSize(crc, 1<<20)
	bw.WriteString(fileMagic)
	binary.Write(bw, binary.LittleEndian, h)
	writeTables(bw, m)
	bw.Flush()
	return crc.Sum32()
}

// writeKept writes the second header and the kept messages, in digest
// order so that a model's file is a function of its content.
func writeKept(w *bufio.Writer, m *Model) error {
	if err := binary.Write(w, binary.LittleEndian, header2{Unkept: m.unkept, Kept: uint32(len(m.kept))}); err != nil {
		return err
	}
	var n [4]byte
	for _, s := range sortedSamples(m.kept) {
		b, _ := s.MarshalBinary()
		binary.LittleEndian.PutUint32(n[:], uint32(len(b)))
		w.Write(n[:])
		w.Write(b)
	}
	return nil
}

func readKept(r io.Reader, m *Model) error {
	var h2 header2
	if err := binary.Read(r, binary.LittleEndian, &h2); err != nil {
		return fmt.Errorf("classify: truncated model: %w", err)
	}
	if h2.Kept > 4*MaxKept {
		return fmt.Errorf("classify: corrupt model: %d kept messages", h2.Kept)
	}
	m.unkept = h2.Unkept
	m.kept = make(map[uint64]Sample, h2.Kept)
	var n [4]byte
	buf := make([]byte, maxSampleBytes)
	for i := uint32(0); i < h2.Kept; i++ {
		if _, err := io.ReadFull(r, n[:]); err != nil {
			return fmt.Errorf("classify: truncated model: %w", err)
		}
		l := binary.LittleEndian.Uint32(n[:])
		if l > maxSampleBytes {
			return fmt.Errorf("classify: corrupt model: a kept message of %d bytes", l)
		}
		if _, err := io.ReadFull(r, buf[:l]); err != nil {
			return fmt.Errorf("classify: truncated model: %w", err)
		}
		var s Sample
		if err := s.UnmarshalBinary(buf[:l]); err != nil || !s.fits(m.p.Bits) {
			return fmt.Errorf("classify: corrupt model: kept message %d does not decode", i)
		}
		m.kept[s.Digest] = s
	}
	return nil
}

// writeTables writes the feature table (weight, counts per slot) and the
// digest table, little-endian.
func writeTables(w *bufio.Writer, m *Model) {
	var b [8]byte
	for _, s := range m.t {
		binary.LittleEndian.PutUint32(b[:4], math.Float32bits(s.w))
		binary.LittleEndian.PutUint32(b[4:], s.c)
		w.Write(b[:])
	}
	for _, d := range m.seen.slots {
		binary.LittleEndian.PutUint64(b[:], d)
		w.Write(b[:])
	}
}

func readTables(r io.Reader, m *Model) error {
	buf := make([]byte, 64<<10)
	t := m.t
	for len(t) > 0 {
		n := min(len(t), len(buf)/8)
		if _, err := io.ReadFull(r, buf[:n*8]); err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			t[i].w = math.Float32frombits(binary.LittleEndian.Uint32(buf[i*8:]))
			t[i].c = binary.LittleEndian.Uint32(buf[i*8+4:])
		}
		t = t[n:]
	}
	d := m.seen.slots
	for len(d) > 0 {
		n := min(len(d), len(buf)/8)
		if _, err := io.ReadFull(r, buf[:n*8]); err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			d[i] = binary.LittleEndian.Uint64(buf[i*8:])
		}
		d = d[n:]
	}
	return nil
}

// Load reads a model file.
func Load(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open model: %w", err)
	}
	defer f.Close()
	m, err := Read(f)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", path, err)
	}
	return m, nil
}

// Save writes the model to path atomically: a temporary file in the same
// folder, synced, then renamed over path.
func (m *Model) Save(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".model-*.tmp")
	if err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := m.WriteTo(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save model: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save model: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
