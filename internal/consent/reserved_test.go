package consent

import "testing"

// Mail to a name reserved for examples, tests or local use reaches no
// one (RFC 2606, RFC 6761, RFC 6762): it must not dilute a sender's
// complaint rate. Real domains that merely look alike still count.
func TestReservedDomain(t *testing.T) {
	for dom, want := range map[string]bool{
		"example": true, "shop.example": true,
		"example.com": true, "example.net": true, "example.org": true, "Mail.Example.NET.": true,
		"test": true, "a.test": true, "invalid": true, "x.invalid": true,
		"localhost": true, "mail.localhost": true, "printer.local": true,
		"gmail.com": false, "myexample.net": false, "example.net.eu": false, "example.co.uk": false, "testing.org": false,
	} {
		if got := reservedDomain(dom); got != want {
			t.Errorf("reservedDomain(%q) = %v, want %v", dom, got, want)
		}
	}
}
