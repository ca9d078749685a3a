package analysis

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/accord-antispam/accord/bench/modernreport/record"
	"github.com/accord-antispam/accord/internal/mail"
)

// TestCorpusModernSamples analyses real 2022–2026 mail as its receiving provider
// delivered it (ACCORD_MODERN_SAMPLES names the folder, read in place; it
// is not part of the repository — test.sh sets it when the project's
// shared samples sit beside the checkout, and says so when they do not). Every
// verdict must match the documented schema, and the verdicts must agree
// with the final receiving provider's own record (package record, the
// same reader bench/modern.sh uses): the connecting IP it wrote (Microsoft's
// "sender IP is …" or X-Sender-IP, Gmail's Received-SPF client-ip) for at
// least 97% of the messages that carry it, its SPF and DMARC results for
// at least 95% (DMARC where it judged the From domain the message has now).
// SPF and DMARC are read, offline, from that same field: their agreement
// compares two readers of one field.
func TestCorpusModernSamples(t *testing.T) {
	dir := os.Getenv("ACCORD_MODERN_SAMPLES")
	if dir == "" {
		t.Skip("ACCORD_MODERN_SAMPLES not set: no real modern mail to check against")
	}
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".eml") {
			files = append(files, p)
		}
		return err
	})
	if err != nil || len(files) < 100 {
		t.Fatalf("ACCORD_MODERN_SAMPLES=%s: %d messages (%v); the sample folder is expected", dir, len(files), err)
	}
	an := newOffline(t)
	schema := verdictSchema(t)
	var withIP, originOK, withSPF, spfOK, withDMARC, dmarcOK int
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m := mail.ParseBytes(raw, mail.Limits{})
		v, err := an.Analyze(context.Background(), Input{Source: f, Message: m})
		if err != nil {
			t.Fatal(err)
		}
		validate(t, schema, v)
		rec, ok := record.Read(m.Header)
		if !ok {
			continue
		}
		withIP++
		if v.Origin.IP == rec.IP {
			originOK++
		} else {
			t.Logf("%s: origin %q (%s), %s's record %q", f, v.Origin.IP, v.Origin.Why, rec.Provider, rec.IP)
		}
		if rec.SPF != "" {
			withSPF++
			if string(v.Auth.SPF.Result) == rec.SPF {
				spfOK++
			}
		}
		if rec.DMARC != "" && (rec.DMARCFrom == "" || rec.DMARCFrom == v.Sender.Domains.From) {
			withDMARC++
			if string(v.Auth.DMARC.Result) == rec.DMARC {
				dmarcOK++
			}
		}
	}
	pct := func(a, b int) float64 { return 100 * float64(a) / float64(max(b, 1)) }
	t.Logf("%d messages: origin agrees %d/%d (%.1f%%), SPF %d/%d (%.1f%%), DMARC %d/%d (%.1f%%)",
		len(files), originOK, withIP, pct(originOK, withIP), spfOK, withSPF, pct(spfOK, withSPF), dmarcOK, withDMARC, pct(dmarcOK, withDMARC))
	if withIP < len(files)/2 || pct(originOK, withIP) < 97 {
		t.Errorf("origin agrees with the provider's record for %d of %d", originOK, withIP)
	}
	if pct(spfOK, withSPF) < 95 || pct(dmarcOK, withDMARC) < 95 {
		t.Errorf("SPF agrees %d of %d, DMARC %d of %d", spfOK, withSPF, dmarcOK, withDMARC)
	}
}
