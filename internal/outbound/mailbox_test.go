package outbound

import "testing"

func TestMailboxKey(t *testing.T) {
	for _, c := range []struct{ addr, delims, want string }{
		{"victim@example.org", "", "victim@example.org"},
		{"Victim+news@Example.ORG", "", "victim@example.org"},
		{"<victim+1@example.org.>", "none", "victim@example.org"},
		{`"victim+x"@example.org`, "", "victim@example.org"},
		{"ana-news@example.org", "", "ana-news@example.org"}, // "-" only where it is a delimiter
		{"ana-news@example.org", "+-", "ana@example.org"},
		{"ana-news@yahoo.co.uk", "", "ana@yahoo.co.uk"},
		{"Jane.Doe+x@googlemail.com", "", "janedoe@gmail.com"},
		{"+tag@example.org", "", "+tag@example.org"}, // a local part that is only a tag is kept
	} {
		if got := MailboxKey(c.addr, c.delims); got != c.want {
			t.Errorf("MailboxKey(%q, %q) = %q, want %q", c.addr, c.delims, got, c.want)
		}
	}
}
