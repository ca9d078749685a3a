package i18n

import (
	"strings"
	"testing"
)

func TestCatalogues(t *testing.T) {
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if l := c.Languages(); len(l) < 2 || l[0] != "en" {
		t.Fatalf("languages %v", l)
	}
	if m := c.Missing(); len(m) > 0 {
		t.Errorf("incomplete catalogues: %v", m)
	}
	for _, tc := range []struct {
		prefs []string
		want  string
	}{
		{[]string{"fr-FR,fr;q=0.9,en;q=0.8"}, "fr"},
		{[]string{"fr-CA"}, "fr"},
		{[]string{"de-DE,en;q=0.5"}, "de"},
		// q-values decide, not the order written.
		{[]string{"en;q=0.2, it;q=0.9, fr;q=0.5"}, "it"},
		{[]string{"nl-BE;q=0.4,es-MX;q=0.8"}, "es"},
		// A region falls back to its language.
		{[]string{"pt-BR"}, "pt"},
		{[]string{"pt-PT,pt;q=0.9"}, "pt"},
		{[]string{"de-AT"}, "de"},
		// A language with no catalogue: English, or the next one asked for.
		{[]string{"ja-JP"}, "en"},
		{[]string{"pl,nl;q=0.7"}, "nl"},
		{[]string{"", "fr"}, "fr"},
		{[]string{"xx-invalid;;q=abc"}, "en"},
		{nil, "en"},
	} {
		if got := c.Match(tc.prefs...); got != tc.want {
			t.Errorf("Match(%q) = %s, want %s", tc.prefs, got, tc.want)
		}
	}
	fr := c.T("fr", "mail_ack_subject", map[string]any{"Complaint": "abc"})
	if !strings.HasPrefix(fr, "Votre signalement") || !strings.Contains(fr, "abc") {
		t.Errorf("fr subject %q", fr)
	}
	if got := c.T("fr", "mail_ack_reports", map[string]any{"Count": 2}); !strings.HasPrefix(got, "Vos 2") {
		t.Errorf("fr plural %q", got)
	}
	if got := c.T("en", "mail_ack_reports", map[string]any{"Count": 1}); !strings.HasPrefix(got, "Your report") {
		t.Errorf("en singular %q", got)
	}
}
