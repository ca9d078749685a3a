package analysis

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/accord-antispam/accord/internal/mail"
)

// TestCorpusModernSamples analyses real 2022–2026 mail as its receiving provider
// delivered it (ACCORD_MODERN_SAMPLES names the folder, read in place; it
// is not part of the repository — test.sh sets it when the project's
// shared samples sit beside the checkout, and says so when they do not). Every
// verdict must match the documented schema, and the verdicts must agree
// with the provider's own record: the connecting IP it wrote ("sender IP
// is …" in its Authentication-Results, or X-Sender-IP) for at least 97% of
// the messages that carry it, its SPF and DMARC results for at least 95%.
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
	var withIP, originOK, withAuth, spfOK, dmarcOK int
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
		ip, spf, dmarc := providerRecord(m.Header)
		if ip != "" {
			withIP++
			if v.Origin.IP == ip {
				originOK++
			} else {
				t.Logf("%s: origin %q (%s), provider's record %q", f, v.Origin.IP, v.Origin.Why, ip)
			}
		}
		if spf != "" {
			withAuth++
			if string(v.Auth.SPF.Result) == spf {
				spfOK++
			}
			if string(v.Auth.DMARC.Result) == dmarc {
				dmarcOK++
			}
		}
	}
	pct := func(a, b int) float64 { return 100 * float64(a) / float64(max(b, 1)) }
	t.Logf("%d messages: origin agrees %d/%d (%.1f%%), SPF %d/%d (%.1f%%), DMARC %d/%d (%.1f%%)",
		len(files), originOK, withIP, pct(originOK, withIP), spfOK, withAuth, pct(spfOK, withAuth), dmarcOK, withAuth, pct(dmarcOK, withAuth))
	if withIP < len(files)/2 || pct(originOK, withIP) < 97 {
		t.Errorf("origin agrees with the provider's record for %d of %d", originOK, withIP)
	}
	if pct(spfOK, withAuth) < 95 || pct(dmarcOK, withAuth) < 95 {
		t.Errorf("SPF agrees %d, DMARC %d, of %d", spfOK, dmarcOK, withAuth)
	}
}

var (
	recordIP     = regexp.MustCompile(`(?i)sender IP is ([0-9a-f:.]+)`)
	recordResult = regexp.MustCompile(`(?i)(?:^|[;\s])(spf|dmarc)\s*=\s*([a-z]+)`)
)

// providerRecord reads the receiving provider's own record, written
// independently of Accord's parser: the newest Authentication-Results field
// naming the sender IP, with its spf= and dmarc= results mapped as
// docs/verdict.md documents; else X-Sender-IP.
func providerRecord(h mail.Header) (ip, spf, dmarc string) {
	for _, v := range h.Values("Authentication-Results") {
		if d, err := mail.DecodeHeader(v); err == nil {
			v = d
		}
		m := recordIP.FindStringSubmatch(v)
		if m == nil {
			continue
		}
		ip, spf, dmarc = m[1], "none", "none"
		for _, r := range recordResult.FindAllStringSubmatch(v, -1) {
			val := strings.ToLower(r[2])
			switch val {
			case "bestguesspass":
				val = "none"
			case "hardfail":
				val = "fail"
			case "timeout":
				val = "temperror"
			}
			if strings.EqualFold(r[1], "spf") {
				spf = val
			} else {
				dmarc = val
			}
		}
		return ip, spf, dmarc
	}
	return strings.TrimSpace(h.Get("X-Sender-IP")), "", ""
}
