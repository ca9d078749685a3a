package analysis

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/accord-antispam/accord/internal/mail"
)

// TestCorpusEveryMessageAnalysed runs the whole public corpus through the
// engine (bench/corpus.sh lays it out; ACCORD_CORPUS points at it): every
// message must yield a verdict that matches the documented schema, and none
// may panic.
func TestCorpusEveryMessageAnalysed(t *testing.T) {
	msgs := corpus(t)
	if len(msgs) != 6046 {
		t.Fatalf("corpus has %d messages, want 6046", len(msgs))
	}
	an := newOffline(t)
	schema := verdictSchema(t)
	var origin, country int
	for i, raw := range msgs {
		v, err := an.Analyze(context.Background(), Input{Source: "corpus", Message: mail.ParseBytes(raw, mail.Limits{})})
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if _, err := json.Marshal(v); err != nil {
			t.Fatalf("message %d: verdict does not encode: %v", i, err)
		}
		validate(t, schema, v)
		if v.Origin.IP != "" {
			origin++
		}
		if v.Origin.Country != "" {
			country++
		}
	}
	t.Logf("%d messages: %d with an origin IP, %d with a country", len(msgs), origin, country)
}

// TestConcurrentAnalysis shares one Analyzer between goroutines, as the
// check command and the node do; run with -race.
func TestConcurrentAnalysis(t *testing.T) {
	raw, z := signedNewsletter(t)
	an := analyzer(t, z)
	msgs := []string{raw, newsletter, "Subject: x\r\n\r\nhi\r\n"}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				m := mail.ParseBytes([]byte(msgs[i%len(msgs)]), mail.Limits{})
				if _, err := an.Analyze(context.Background(), Input{Message: m}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}
