package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func write(t *testing.T, s string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "accord.toml")
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultsRunANode(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.HTTP.Listen != "127.0.0.1:8080" || c.SMTP.Listen != "127.0.0.1:2525" || c.Data != "accord-data" || c.Store.Driver != "sqlite" {
		t.Errorf("defaults %+v", c)
	}
}

func TestLoadOverridesOnlyWhatItSays(t *testing.T) {
	c, err := Load(write(t, "[smtp]\nrate_per_sender = 5\nidle_timeout = \"15s\"\n[privacy]\nexport_original = true\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.SMTP.RatePerSender != 5 || c.SMTP.IdleTimeout.Duration != 15*time.Second || !c.Privacy.ExportOriginal {
		t.Errorf("loaded %+v", c)
	}
	if c.SMTP.Listen != "127.0.0.1:2525" || c.SMTP.RatePerIP != 600 {
		t.Errorf("defaults lost: %+v", c.SMTP)
	}
}

func TestLoadErrors(t *testing.T) {
	for name, body := range map[string]string{
		"unknown key":      "[smtp]\nrate_per_minit = 5\n",
		"bad duration":     "[smtp]\nidle_timeout = \"soon\"\n",
		"postgres no dsn":  "[store]\ndriver = \"postgres\"\n",
		"unknown driver":   "[store]\ndriver = \"mysql\"\n",
		"cert without key": "[smtp]\ntls_cert = \"c.pem\"\n",
		"not toml":         "this is not toml",
	} {
		if _, err := Load(write(t, body)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.toml")); err == nil || !strings.Contains(err.Error(), "read config") {
		t.Errorf("missing file: %v", err)
	}
}

// [analysis] resolver takes "offline", "live" or a zone file's path, and
// nothing else for a path: a fixture zone is a checking resolver whose keys
// establish sender domains, so a value that only looks like a setting
// ("fixture:/path", "Live") must stop the node, naming the key.
func TestAnalysisResolverForms(t *testing.T) {
	for _, ok := range []string{"offline", "live", "zone.txt", "/etc/accord/dns.zone", "./fixture:zone", "dir/a:b"} {
		c, err := Load(write(t, fmt.Sprintf("[analysis]\nresolver = %q\n", ok)))
		if err != nil {
			t.Errorf("%q refused: %v", ok, err)
			continue
		}
		zone := ok
		if ok == "offline" || ok == "live" {
			zone = ""
		}
		if c.Analysis.ZoneFile() != zone {
			t.Errorf("%q: zone file %q", ok, c.Analysis.ZoneFile())
		}
	}
	for _, bad := range []string{"fixture:/tmp/zone", "zone:dns.zone", "dns://192.0.2.1", "udp:192.0.2.1:53", "Live", "OFFLINE", "", " live", "live "} {
		_, err := Load(write(t, fmt.Sprintf("[analysis]\nresolver = %q\n", bad)))
		if err == nil || !strings.Contains(err.Error(), "analysis.resolver") || !strings.Contains(err.Error(), `want "offline", "live" or the path of a fixture zone file`) {
			t.Errorf("%q: %v", bad, err)
		}
	}
	if Default().Analysis.ZoneFile() != "" {
		t.Errorf("the default resolver is a zone file")
	}
}

func TestEncodeRoundTrips(t *testing.T) {
	c, err := Load(write(t, Default().Encode()))
	if err != nil {
		t.Fatalf("the encoded defaults do not load: %v\n%s", err, Default().Encode())
	}
	if c.SMTP.MaxSession != Default().SMTP.MaxSession || !reflect.DeepEqual(c.HTTP, Default().HTTP) || !reflect.DeepEqual(c.Outbound, Default().Outbound) {
		t.Errorf("round trip changed the config")
	}
}

func TestMilterConnectTimeout(t *testing.T) {
	if d := Default().Filter.MilterConnectTimeout.Duration; d != 10*time.Second {
		t.Errorf("default %v, want 10s", d)
	}
	c, err := Load(write(t, "[filter]\nmilter_connect_timeout = \"3s\"\n"))
	if err != nil || c.Filter.MilterConnectTimeout.Duration != 3*time.Second {
		t.Errorf("3s: %v %v", c.Filter.MilterConnectTimeout, err)
	}
	if _, err := Load(write(t, "[filter]\nmilter_connect_timeout = \"-1s\"\n")); err == nil || !strings.Contains(err.Error(), "milter_connect_timeout") {
		t.Errorf("negative: %v", err)
	}
}
