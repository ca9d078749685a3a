package rspamdhttp

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/cputime"
)

var answerStrings = []string{"", "a", "X-Spam-Flag", "<b>&amp;</b>", "quote \" and \\ back", "\x00\x01\b\f\n\r\t\x1f\x7f",
	"é ü 漢字", "\xff\xfe bad", "\xe2\x80", "line\u2028sep\u2029", "🙂", "spam (+1.00) foo:bar"}

var answerFloats = []float64{0, math.Copysign(0, -1), 1, -1, 0.5, 2.3333333333333335, 1e-6, 9.99e-7, 1e-7, -1e-9, 1e20, 1e21, 1.5e300, 123456789.125, -6.02}

func randomResult(r *rand.Rand) *Result {
	str := func() string {
		return answerStrings[r.IntN(len(answerStrings))] + answerStrings[r.IntN(len(answerStrings))]
	}
	num := func() float64 { return answerFloats[r.IntN(len(answerFloats))] }
	strs := func() []string {
		switch r.IntN(3) {
		case 0:
			return nil
		case 1:
			return []string{}
		}
		var out []string
		for range 1 + r.IntN(3) {
			out = append(out, str())
		}
		return out
	}
	res := &Result{IsSkipped: r.IntN(2) == 0, Score: num(), RequiredScore: num(), Action: str(), MessageID: str(), TimeReal: num(),
		URLs: strs(), Emails: strs(), Reference: str()}
	if r.IntN(4) > 0 {
		res.Thresholds = map[string]float64{}
		for range r.IntN(3) {
			res.Thresholds[str()] = num()
		}
	}
	if r.IntN(4) > 0 {
		res.Symbols = map[string]symbolJSON{}
		for range r.IntN(4) {
			res.Symbols[str()] = symbolJSON{Name: str(), Score: num(), MetricScore: num(), Description: str(), Options: strs()}
		}
	}
	if r.IntN(4) > 0 {
		res.Messages = map[string]string{}
		for range r.IntN(3) {
			res.Messages[str()] = str()
		}
	}
	if r.IntN(3) > 0 {
		res.Recipients = map[string]string{}
		for range r.IntN(3) {
			res.Recipients[str()] = str()
		}
	}
	if r.IntN(4) > 0 {
		m := &milterJSON{Reject: str()}
		if r.IntN(3) > 0 {
			m.AddHeaders = map[string]headerJSON{}
			for range r.IntN(3) {
				m.AddHeaders[str()] = headerJSON{Value: str(), Order: r.IntN(3) - 1}
			}
		}
		if r.IntN(3) > 0 {
			m.RemoveHeaders = map[string]int{}
			for range r.IntN(3) {
				m.RemoveHeaders[str()] = r.IntN(3)
			}
		}
		res.Milter = m
	}
	return res
}

// TestAnswerAsEncodingJSON: the /checkv2 answer written by hand is the
// bytes encoding/json writes, over random answers made of the strings and
// numbers JSON escapes and formats with care.
func TestAnswerAsEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		res := randomResult(r)
		want, err := json.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := appendJSON(nil, res)
		if !ok || !bytes.Equal(got, want) {
			t.Fatalf("answer differs:\n got %s\nwant %s", got, want)
		}
	}
	// A number JSON cannot carry: left to encoding/json.
	if _, ok := appendJSON(nil, &Result{Score: math.NaN()}); ok {
		t.Error("NaN written")
	}
	if _, ok := appendJSON(nil, &Result{Symbols: map[string]symbolJSON{"X": {Score: math.Inf(1)}}}); ok {
		t.Error("Inf written")
	}
}

func FuzzAnswerJSON(f *testing.F) {
	for _, s := range answerStrings {
		f.Add(s, s+"x", 1.5)
	}
	f.Fuzz(func(t *testing.T, a, b string, x float64) {
		res := &Result{Action: a, Score: x, Thresholds: map[string]float64{a: x, b: -x}, Symbols: map[string]symbolJSON{b: {Name: a, Score: x, Description: b, Options: []string{a, b}}},
			Messages: map[string]string{a: b}, Reference: b, Milter: &milterJSON{AddHeaders: map[string]headerJSON{a: {Value: b}}, RemoveHeaders: map[string]int{b: 1}}}
		want, err := json.Marshal(res)
		got, ok := appendJSON(nil, res)
		if err != nil {
			if ok {
				t.Fatalf("written where encoding/json fails (%v): %s", err, got)
			}
			return
		}
		if !ok || !bytes.Equal(got, want) {
			t.Fatalf("answer differs:\n got %s\nwant %s", got, want)
		}
	})
}

// BenchmarkAnswer writes a /checkv2 answer of the usual size (eleven
// symbols, the milter's headers) by hand and, for comparison, with
// encoding/json, which wrote it before.
func BenchmarkAnswer(b *testing.B) {
	res := &Result{Score: 7.31, RequiredScore: 5, Action: "add header", Thresholds: map[string]float64{"add header": 5, "discard": 15},
		Symbols: map[string]symbolJSON{}, Messages: map[string]string{}, MessageID: "<20260302100000.1234@sender.example>", TimeReal: 0.000734,
		Reference: "abcdefghij", Recipients: map[string]string{"ana@example.org": "spam"}, URLs: []string{"http://a.example/x", "https://b.example/y?z=1&w=2"},
		Milter: &milterJSON{AddHeaders: map[string]headerJSON{"X-Spam-Flag": {Value: "YES"}, "X-Spam-Score": {Value: "7.31"},
			"X-Spam-Status":          {Value: "Yes, score=7.31 required=5.00 tests=ACCORD_BAYES_SPAM=5.12,DMARC_NONE=0.20 autolearn=no version=accord"},
			"Authentication-Results": {Value: "mx.example.org; spf=none smtp.mailfrom=sender.example; dkim=none; dmarc=none header.from=sender.example"}},
			RemoveHeaders: map[string]int{"X-Spam-Flag": 0, "X-Spam-Status": 0, "X-Spam-Score": 0}}}
	for i := range 11 {
		name := "SYMBOL_" + string(rune('A'+i))
		res.Symbols[name] = symbolJSON{Name: name, Score: float64(i) * 0.37, MetricScore: float64(i) * 0.37, Description: "what the symbol says, <with> & a little markup",
			Options: []string{"option-one", "two(+1.25)"}}
	}
	cpu := func(b *testing.B, cpu0 time.Duration) {
		if d := cputime.Process() - cpu0; d > 0 {
			b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
		}
	}
	b.Run("by-hand", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 4096)
		cpu0 := cputime.Process()
		for b.Loop() {
			buf, _ = appendJSON(buf[:0], res)
		}
		cpu(b, cpu0)
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		var buf bytes.Buffer
		cpu0 := cputime.Process()
		for b.Loop() {
			buf.Reset()
			json.NewEncoder(&buf).Encode(res)
		}
		cpu(b, cpu0)
	})
}
