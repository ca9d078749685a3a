package outbound

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/mail"
)

// TestCorpusBouncesFromMailSystems reads a corpus of real notifications
// in place (ACCORD_BOUNCE_SAMPLES: a directory of .eml files, never copied
// into the repository): every DSN that is a bounce from the null sender
// is one from a mail system's role address too (MAILER-DAEMON@,
// postmaster@), and none is one from a person's address (the corpus
// names none of the node's mail). The other notices (failure notices in
// prose) recognised from MAILER-DAEMON@ are counted:
//
//	ACCORD_BOUNCE_SAMPLES=<samples>/bounces go test -count=1 -run CorpusBounces -v ./internal/outbound/
func TestCorpusBouncesFromMailSystems(t *testing.T) {
	dir := os.Getenv("ACCORD_BOUNCE_SAMPLES")
	if dir == "" {
		t.Skip("ACCORD_BOUNCE_SAMPLES not set")
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	if len(files) == 0 {
		t.Fatalf("no samples under %s", dir)
	}
	q := testQueue(t)
	now := time.Now()
	var dsns, prose, proseRole int
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b := q.Recognize(raw, Envelope{Known: true}, now)
		if b == nil || b.Kind != "dsn" && b.Kind != "bounce" {
			continue
		}
		own := ownDSN(mail.ParseBytes(raw, mail.Limits{MaxBytes: 4 << 20}).Root)
		if own {
			dsns++
		} else {
			prose++
		}
		for _, from := range []string{"MAILER-DAEMON@mx.example.net", "postmaster@example.com"} {
			r := q.Recognize(raw, Envelope{Known: true, MailFrom: from}, now)
			switch {
			case r == nil && own:
				t.Errorf("%s: a DSN from %s taken for a complaint", filepath.Base(f), from)
			case r != nil && !own && from[0] == 'M':
				proseRole++
			}
		}
		// A person forwarding backscatter they received reports it.
		if r := q.Recognize(raw, Envelope{Known: true, MailFrom: "helpdesk@example.com"}, now); r != nil && (r.Kind == "dsn" || r.Kind == "bounce") {
			t.Errorf("%s: from a person's address, taken for a %s", filepath.Base(f), r.Kind)
		}
	}
	t.Logf("%d samples: %d DSNs and %d other notices recognised from the null sender; %d of those others also from MAILER-DAEMON@",
		len(files), dsns, prose, proseRole)
	if dsns == 0 {
		t.Error("no DSN in the corpus")
	}
}
