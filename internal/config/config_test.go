package config

import (
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
