package dnsname

import "testing"

// TestMailboxProvidersAreOrgDomains: MailboxProvider is asked about an
// organizational domain, so an entry that is not its own (a subdomain, a
// name under a suffix the list does not know) would never match.
func TestMailboxProvidersAreOrgDomains(t *testing.T) {
	for d := range mailboxProviders {
		if o := OrgDomain(d); o != d {
			t.Errorf("%s: its organizational domain is %q; MailboxProvider never sees it", d, o)
		}
	}
	// A user's host under a provider is the provider's; a firm's is not.
	for d, want := range map[string]bool{
		"mail.btinternet.com": true, "yahoo.co.jp": true, "optusnet.com.au": true, "xtra.co.nz": true,
		"acme-corp.example": false, "co.uk": false,
	} {
		if got := MailboxProvider(OrgDomain(d)); got != want {
			t.Errorf("%s: a mailbox provider's: %v, want %v", d, got, want)
		}
	}
}
