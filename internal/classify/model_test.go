package classify

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/accord-antispam/accord/internal/mail"
)

// Synthetic mail, enough to train on: spam sells, ham talks shop.
func synth(r *rand.Rand, spam bool, i int) []byte {
	spamWords := []string{"FREE", "offer", "viagra", "winner", "cash", "click", "unsubscribe", "limited", "deal", "mortgage", "casino", "pills"}
	hamWords := []string{"meeting", "patch", "build", "review", "lunch", "kernel", "release", "thanks", "agenda", "diff", "tests", "minutes"}
	words := hamWords
	from := "colleague@example.org"
	if spam {
		words, from = spamWords, "promo@deals.example"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s\r\nSubject: %s %s\r\nMessage-ID: <%d@x>\r\n\r\n", from, words[r.Intn(len(words))], words[r.Intn(len(words))], i)
	for j := 0; j < 40; j++ {
		b.WriteString(words[r.Intn(len(words))])
		b.WriteByte(' ')
	}
	return []byte(b.String())
}

func parse(b []byte) *mail.Message { return mail.ParseBytes(b, mail.Limits{}) }

func trained(t testing.TB, n int) *Model {
	m := New(Params{Bits: 16})
	r := rand.New(rand.NewSource(1))
	for i := 0; i < n; i++ {
		spam := i%2 == 0
		m.Learn(m.Extract(parse(synth(r, spam, i)), false), spam)
	}
	return m
}

func TestEmptyModelIsUnsure(t *testing.T) {
	m := New(Params{Bits: 12})
	r := m.Score(m.Extract(parse(synth(rand.New(rand.NewSource(2)), true, 0)), false), false)
	if r.Class != "unsure" || r.Ready || r.Score != 0.5 {
		t.Errorf("empty model: %+v", r)
	}
}

func TestLearnsAndExplains(t *testing.T) {
	m := trained(t, 200)
	r := rand.New(rand.NewSource(3))
	spam := m.Score(m.Extract(parse(synth(r, true, 1000)), true), true)
	ham := m.Score(m.Extract(parse(synth(r, false, 1001)), true), true)
	if spam.Class != "spam" || ham.Class != "ham" || spam.Score < 0.9 || ham.Score > 0.1 {
		t.Fatalf("spam %+v\nham %+v", spam, ham)
	}
	if len(spam.Reasons) == 0 || spam.Reasons[0].Weight <= 0 {
		t.Fatalf("no reasons for spam: %+v", spam.Reasons)
	}
	found := false
	for _, x := range spam.Reasons {
		for _, w := range []string{"FREE", "offer", "viagra", "winner", "cash", "click", "deals.example", "promo"} {
			if strings.Contains(x.Feature, w) {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("spam reasons name no spam word: %+v", spam.Reasons)
	}
	if ham.Reasons[len(ham.Reasons)-1].Weight >= 0 {
		t.Errorf("ham reasons lack evidence against spam: %+v", ham.Reasons)
	}
}

func TestCorrectionUnlearns(t *testing.T) {
	m := New(Params{Bits: 14})
	raw := synth(rand.New(rand.NewSource(4)), true, 7)
	f := m.Extract(parse(raw), false)
	d := Digest(raw)
	if o := m.LearnMessage(d, f, false); o != Learned {
		t.Fatalf("first learn: %v", o)
	}
	if o := m.LearnMessage(d, f, false); o != Known {
		t.Fatalf("repeat: %v", o)
	}
	if o := m.LearnMessage(d, f, true); o != Corrected {
		t.Fatalf("correction: %v", o)
	}
	if s, h := m.Trained(); s != 1 || h != 0 {
		t.Errorf("after correction: %d spam, %d ham", s, h)
	}
	for _, i := range f.f.idx {
		if cs, ch := m.t[i].counts(); ch != 0 || cs != 1 {
			t.Fatalf("slot %d counts %v/%v after correction", i, cs, ch)
		}
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	m := trained(t, 100)
	path := filepath.Join(t.TempDir(), "sub", "model.acm")
	if err := m.Save(path); err != nil {
		t.Fatal(err)
	}
	back, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	f := m.Extract(parse(synth(rand.New(rand.NewSource(5)), true, 9)), false)
	if a, b := m.Score(f, false), back.Score(back.Extract(parse(synth(rand.New(rand.NewSource(5)), true, 9)), false), false); a.Score != b.Score {
		t.Errorf("scores differ after reload: %v vs %v", a.Score, b.Score)
	}
	if s, h := back.Trained(); s != 50 || h != 50 {
		t.Errorf("counts after reload: %d/%d", s, h)
	}
	// No temporary files are left behind.
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("files in the model folder: %v", entries)
	}
}

func TestLoadRejectsBadFiles(t *testing.T) {
	m := trained(t, 10)
	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	corrupt := append([]byte(nil), good...)
	corrupt[len(corrupt)/2] ^= 0xff
	wrongVersion := append([]byte(nil), good...)
	wrongVersion[len(fileMagic)] = 9
	for name, b := range map[string][]byte{
		"empty":     nil,
		"not model": []byte("hello, world"),
		"truncated": good[:len(good)/3],
		"corrupt":   corrupt,
		"version":   wrongVersion,
		"trailing":  append(append([]byte(nil), good...), 1, 2, 3),
	} {
		_, err := Read(bytes.NewReader(b))
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		t.Logf("%s: %v", name, err)
	}
	if _, err := Read(bytes.NewReader(wrongVersion)); err == nil || !strings.Contains(err.Error(), "version 9") {
		t.Errorf("version error does not say so: %v", err)
	}
}

func TestMemoryIsBounded(t *testing.T) {
	if got := DefaultParams().MemoryBytes(); got > 16<<20 {
		t.Errorf("default model holds %d bytes, over 16 MiB", got)
	}
	m := New(Params{})
	if got := int64(len(m.t)*8 + len(m.seen.slots)*8); got != DefaultParams().MemoryBytes() {
		t.Errorf("MemoryBytes %d, tables %d", DefaultParams().MemoryBytes(), got)
	}
}

// TestConcurrentScoreAndLearn scores from several goroutines while one
// learns; run with -race.
func TestConcurrentScoreAndLearn(t *testing.T) {
	m := trained(t, 20)
	var msgs []Features
	r := rand.New(rand.NewSource(6))
	for i := 0; i < 40; i++ {
		msgs = append(msgs, m.Extract(parse(synth(r, i%3 == 0, i)), true))
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				m.Score(msgs[(i+g)%len(msgs)], i%5 == 0)
			}
		}(g)
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			m.Learn(msgs[i%len(msgs)], i%3 == 0)
		}
	}()
	wg.Wait()
}

func FuzzRead(f *testing.F) {
	m := New(Params{Bits: 10})
	var buf bytes.Buffer
	m.WriteTo(&buf)
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		Read(bytes.NewReader(b)) // must not panic or allocate without bound
	})
}

// TestReasonsIndependentOfEarlierScores: Score reuses its per-feature
// contributions from one message to the next; a message's reasons are
// still its own, whatever was scored before it.
func TestReasonsIndependentOfEarlierScores(t *testing.T) {
	m := trained(t, 200)
	r := rand.New(rand.NewSource(7))
	// A long message scored first leaves contributions behind.
	var long bytes.Buffer
	long.Write(synth(r, true, 2000))
	for range 50 {
		long.WriteString("casino winner pills mortgage deal cash offer\r\n")
	}
	short := m.Extract(parse([]byte("From: someone@elsewhere.example\r\nSubject: hi\r\n\r\nsee you at the meeting\r\n")), true)
	fresh := make([]float64, short.Len())
	m.logits(short.f, fresh)
	want := topReasons(short.f.names, fresh, 5)
	for range 3 {
		m.Score(m.Extract(parse(long.Bytes()), true), true)
		if got := m.Score(short, true).Reasons; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("reasons after another message: %v, want %v", got, want)
		}
	}
}
