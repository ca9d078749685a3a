package consent

import (
	"strings"
	"testing"
)

// TestLinkMailtoOnlyWhenReachable: a node whose mail domain is a single
// label (localhost, the default when [smtp] hostname is unset) gives no
// mailto opt-out address — it would reach no one — while a real domain
// gets both targets.
func TestLinkMailtoOnlyWhenReachable(t *testing.T) {
	for _, c := range []struct {
		host   string
		mailto bool
	}{
		{"localhost", false}, {"LOCALHOST.", false}, {"mx", false}, {"box.localhost", false}, {"", false},
		{"node.example", true}, {"accord.test", true}, {"mx.example.org.", true},
	} {
		s := &Service{o: Options{BaseURL: "https://node.example", MailHost: c.host}}
		l := s.link("ana@example.net", "TOK")
		has := strings.Contains(l.ListUnsubscribe, "mailto:")
		if has != c.mailto || (l.Mailto != "") != c.mailto {
			t.Errorf("mail host %q: List-Unsubscribe %q, Mailto %q; want mailto %v", c.host, l.ListUnsubscribe, l.Mailto, c.mailto)
		}
		if !strings.HasPrefix(l.ListUnsubscribe, "<https://node.example/u/TOK>") || l.ListUnsubscribePost != "List-Unsubscribe=One-Click" {
			t.Errorf("mail host %q: %+v", c.host, l)
		}
	}
}
