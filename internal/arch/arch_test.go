// Package arch holds the test that keeps docs/ARCHITECTURE.md honest: no
// package imports a package on its own level or above.
package arch

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/accord-antispam/accord/internal/"

// level of each internal package; siblings on a level may not import each
// other unless listed in allowed.
var level = map[string]int{
	"resolve":    0,
	"iso3166":    0,
	"dnsname":    0,
	"ratelimit":  0,
	"spool":      0,
	"strictjson": 0,
	"lease":      0,
	"cputime":    0,
	"connlimit":  1,
	"mail":       1,
	"mailauth":   2,
	"trace":      2,
	"trace/geo":  1, // below trace, which uses it
	"rules":      2,
	"classify":   2,
	"analysis":   3,
	"campaign":   2,
	"privacy":    2,
	"intake":     4,
	"access":     4,
	"consent":    4,
	"outbound":   4,
	"i18n":       1,
	"cases":      5,
	"metrics":    1,
	"stats":      5,
	"web":        7,
	"smtpd":      5,
	"lint":       5,
	"fbl":        5,
	"config":     1,

	// The filter for mail providers.
	"intel":      2,
	"filter":     4,
	"milterd":    5,
	"rspamdhttp": 5,
	"spamd":      5,

	"federation":         5,
	"federation/stix":    6,
	"federation/fedhttp": 6,
	"store/sqlstore":     6,
	"store/sqlite":       7,
	"store/postgres":     7,
	"store/storetest":    7,

	"nodekey":             1,
	"label":               1,
	"ownmail":             2, // above mail, whose header walks it uses
	"intake/sqlitetest":   8,
	"federation/nodetest": 8,
	"outbound/sinktest":   8,
	"arch":                9,
}

func TestImportDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", "github.com/accord-antispam/accord/internal/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(p.ImportPath, module)
		from, ok := level[name]
		if !ok {
			t.Errorf("package %s has no level in this test or in docs/ARCHITECTURE.md", name)
			continue
		}
		for _, imp := range p.Imports {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			dep := strings.TrimPrefix(imp, module)
			to, ok := level[dep]
			if !ok {
				continue
			}
			if to >= from {
				t.Errorf("%s (level %d) imports %s (level %d): imports must point down", name, from, dep, to)
			}
		}
	}
}

// Domain packages know no HTTP: they return typed errors that the edges
// (web, federation/fedhttp, federation/stix) map to status codes.
var noHTTP = []string{"federation", "intake", "access", "analysis", "privacy"}

func TestDomainsKnowNoHTTP(t *testing.T) {
	for _, p := range noHTTP {
		out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, module+p).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", p, err)
		}
		for _, imp := range strings.Split(string(out), "\n") {
			if imp == "net/http" {
				t.Errorf("%s imports net/http: HTTP belongs at the edge", p)
			}
		}
	}
}
