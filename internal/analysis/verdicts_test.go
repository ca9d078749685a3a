package analysis

import (
	"bufio"
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"testing"

	"github.com/accord-antispam/accord/internal/mail"
)

// TestCorpusVerdicts writes the verdict on every message of the public
// corpus, one JSON line each, to the file ACCORD_VERDICTS names — once as
// a stored file (trace-back finds the origin) and once as a filter door
// sees it (the session's client and receiver given): the record that a
// change meant to make the engine faster left every verdict alone.
//
//	ACCORD_CORPUS=$(bench/corpus.sh) ACCORD_VERDICTS=before.jsonl go test -run TestCorpusVerdicts ./internal/analysis/
//	(change) … ACCORD_VERDICTS=after.jsonl …; cmp before.jsonl after.jsonl
func TestCorpusVerdicts(t *testing.T) {
	out := os.Getenv("ACCORD_VERDICTS")
	if out == "" {
		t.Skip("ACCORD_VERDICTS not set")
	}
	msgs := corpus(t)
	an := newOffline(t)
	an.Version = "corpus" // not the build's revision, which every commit changes
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bw := bufio.NewWriter(f)
	enc := json.NewEncoder(bw)
	door := Envelope{RemoteIP: netip.MustParseAddr("192.0.2.10"), HELO: "mail.example.net", MailFrom: "s@example.net",
		RcptTo: []string{"user@example.org"}, Receiver: "mx.example.org"}
	for _, env := range []Envelope{{}, door} {
		for _, raw := range msgs {
			v, err := an.Analyze(context.Background(), Input{Source: "corpus", Message: mail.ParseBytes(raw, mail.DefaultLimits()), Envelope: env})
			if err != nil {
				t.Fatal(err)
			}
			if err := enc.Encode(v); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d verdicts written to %s", 2*len(msgs), out)
}
