package rules

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/accord-antispam/accord/internal/cputime"
	accmail "github.com/accord-antispam/accord/internal/mail"
)

// corpusMessage is one message of the public corpus as the scans read it.
type corpusMessage struct {
	header  accmail.Header
	content *accmail.Content
	from    []accmail.Address
	strict  bool
	subject string
	text    string // Text and HTMLText joined, as the legal facts read them
}

// scanCorpus parses and extracts the messages under $ACCORD_CORPUS (laid
// out by bench/corpus.sh) once; benchmarks skip without it.
func scanCorpus(b *testing.B) []corpusMessage {
	dir := os.Getenv("ACCORD_CORPUS")
	if dir == "" {
		b.Skip("ACCORD_CORPUS not set; run bench/corpus.sh")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.txt"))
	if len(files) == 0 {
		b.Fatalf("no messages under %s", dir)
	}
	out := make([]corpusMessage, 0, len(files))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		m := accmail.ParseBytes(raw, accmail.DefaultLimits())
		c := accmail.Extract(m)
		from, strict := accmail.ParseAddressList(m.Header.Get("From"))
		subj, _ := accmail.DecodeHeader(m.Header.Get("Subject"))
		out = append(out, corpusMessage{header: m.Header, content: c, from: from, strict: strict, subject: subj, text: c.Text + "\n" + c.HTMLText})
	}
	return out
}

// BenchmarkScans runs each content and identity scan the engine makes of
// a message over the whole public corpus, its parse and extraction done
// beforehand; ns/op is per message, cpu-ns/op the process's CPU time per
// message (which a machine shared with other work changes far less).
//
//	ACCORD_CORPUS=$(bench/corpus.sh) go test -run X -bench BenchmarkScans ./internal/rules/
func BenchmarkScans(b *testing.B) {
	msgs := scanCorpus(b)
	run := func(name string, scan func(m *corpusMessage)) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			cpu0 := cputime.Process()
			i := 0
			for b.Loop() {
				scan(&msgs[i%len(msgs)])
				i++
			}
			if cpu := cputime.Process() - cpu0; cpu > 0 {
				b.ReportMetric(float64(cpu.Nanoseconds())/float64(i), "cpu-ns/op")
			}
		})
	}
	run("optout", func(m *corpusMessage) {
		DetectOptOut(OptOutInput{ListUnsubscribe: m.header.Get("List-Unsubscribe"), Content: m.content, ReplyAddress: "reply@example.org"})
	})
	run("commercial", func(m *corpusMessage) {
		DetectCommercial(CommercialInput{Header: m.header, Content: m.content})
	})
	run("phishing", func(m *corpusMessage) {
		DetectPhishing(PhishingInput{Content: m.content})
	})
	run("identity", func(m *corpusMessage) {
		DetectIdentity(IdentityInput{From: m.from, FromStrict: m.strict})
	})
	run("adlabel", func(m *corpusMessage) {
		AdLabel(m.subject, m.text, m.content.Lower())
	})
	run("postal", func(m *corpusMessage) {
		PostalAddress(m.text)
	})
}
