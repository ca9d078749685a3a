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
// weight and count tables (little-endian), the learned-message digests, and
// a CRC-32 of everything before it. Saving writes a temporary file in the
// same folder, syncs it and renames it over the old one, so a crash never
// leaves a half-written model.
const (
	fileMagic   = "ACCORD-MODEL\n"
	fileVersion = 1
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

// WriteTo writes the model in the file format.
func (m *Model) WriteTo(w io.Writer) (int64, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
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
	writeTables(bw, m)
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
	if h.Version != fileVersion {
		return nil, fmt.Errorf("classify: model file version %d; this accord reads version %d (retrain with `accord learn`)", h.Version, fileVersion)
	}
	if h.Bits < 10 || h.Bits > MaxBits || h.SeenBits < 4 || h.SeenBits > 20 {
		return nil, fmt.Errorf("classify: corrupt model: table size 2^%d, digest table 2^%d", h.Bits, h.SeenBits)
	}
	m := New(Params{Bits: int(h.Bits), Window: int(h.Window), MinTrained: int(h.MinTrained),
		HamBelow: h.HamBelow, SpamFrom: h.SpamFrom, Rate: h.Rate, Thick: h.Thick})
	m.nSpam, m.nHam, m.bias, m.nbW = h.NSpam, h.NHam, h.Bias, h.NBWeight
	m.seen = newDigestSet(uint(h.SeenBits))
	m.seen.n = int(h.SeenCount)
	if err := readTables(br, m); err != nil {
		return nil, fmt.Errorf("classify: truncated model: %w", err)
	}
	rest, err := io.ReadAll(io.LimitReader(br, 8))
	if err != nil {
		return nil, fmt.Errorf("classify: read model: %w", err)
	}
	if len(rest) != 4 {
		return nil, fmt.Errorf("classify: corrupt model: %d trailing bytes", len(rest))
	}
	want := binary.LittleEndian.Uint32(rest)
	if got := crcOf(m, h); got != want {
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
	writeTables(bw, m)
	bw.Flush()
	return crc.Sum32()
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
