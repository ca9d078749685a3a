package mailauth

import (
	"context"
	"net/netip"
	"strings"

	"github.com/accord-antispam/accord/internal/dnsname"
	"github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/resolve"
)

// How an envelope sender was authenticated, for EnvelopeSender.
const (
	SenderSPF  = "spf"  // SPF of its domain passes for the client's address.
	SenderDKIM = "dkim" // A passing DKIM signature by its domain (or one of the same organisation).
)

// EnvelopeSender says how the address that delivered a message (its SMTP
// envelope sender) is authenticated: SenderSPF, SenderDKIM, or "" when
// it is only what the client said. Offline, nothing is authenticated:
// Authentication-Results fields written by the client prove nothing.
func EnvelopeSender(ctx context.Context, r resolve.Resolver, ip netip.Addr, helo, mailFrom string, m *mail.Message) (string, error) {
	if r == nil || resolve.IsOffline(r) || mailFrom == "" || !strings.Contains(mailFrom, "@") {
		return "", nil
	}
	res, err := Check(ctx, r, Input{Message: m, IP: ip, HELO: helo, MailFrom: mailFrom})
	if err != nil {
		return "", err
	}
	if res.SPF.Result == Pass && res.SPF.Identity == "mailfrom" {
		return SenderSPF, nil
	}
	d := mail.DomainOf(mailFrom)
	for _, s := range res.DKIM {
		if s.Result == Pass && s.Source == SourceComputed && dnsname.SameOrg(s.Domain, d) {
			return SenderDKIM, nil
		}
	}
	return "", nil
}
