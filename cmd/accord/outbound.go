package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/mail"
	"os"
	"path/filepath"
	"strings"

	"github.com/accord-antispam/accord/internal/config"
	"github.com/accord-antispam/accord/internal/i18n"
	"github.com/accord-antispam/accord/internal/nodekey"
	"github.com/accord-antispam/accord/internal/outbound"
	"github.com/accord-antispam/accord/internal/smtpd"
)

// fromAddress is the node's mail identity: [outbound] from, or desk@ the
// SMTP hostname with the node's name.
func fromAddress(c config.Config) string {
	if c.Outbound.From != "" {
		return c.Outbound.From
	}
	return (&mail.Address{Name: c.Node.Name, Address: "desk@" + c.SMTP.Hostname}).String()
}

// openOutbound builds the node's outbound mail queue from the
// configuration: DKIM key (created at first start), relay credentials.
func openOutbound(c config.Config, st outbound.Store, key *nodekey.Key, log *slog.Logger) (*outbound.Queue, error) {
	path := c.Outbound.DKIMKey
	if path == "" {
		path = filepath.Join(c.Data, "dkim.key")
	}
	dk, err := outbound.LoadOrCreateDKIMKey(path)
	if err != nil {
		return nil, err
	}
	oc := outbound.Config{From: fromAddress(c), Relay: c.Outbound.Relay, TLS: c.Outbound.TLS, Username: c.Outbound.Username,
		HelloName: c.SMTP.Hostname, Selector: c.Outbound.DKIMSelector, DKIM: dk, Secret: key.Derive("outbound-mail"), MaxPerHour: c.Outbound.MaxPerHour}
	if c.Outbound.PasswordFile != "" {
		b, err := os.ReadFile(c.Outbound.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("outbound.password_file: %w", err)
		}
		oc.Password = strings.TrimRight(string(b), "\r\n")
	}
	if c.Outbound.CAFile != "" {
		b, err := os.ReadFile(c.Outbound.CAFile)
		if err != nil {
			return nil, fmt.Errorf("outbound.ca_file: %w", err)
		}
		oc.RootCAs = x509.NewCertPool()
		if !oc.RootCAs.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("outbound.ca_file %s: no PEM certificate", c.Outbound.CAFile)
		}
	}
	return outbound.New(st, oc, log)
}

// answers is how the mailbox answers reporters, or nil when turned off.
func answers(c config.Config, q *outbound.Queue) (*smtpd.Answers, error) {
	if !c.Outbound.Answers {
		return nil, nil
	}
	cat, err := i18n.Load()
	if err != nil {
		return nil, err
	}
	return &smtpd.Answers{Queue: q, Catalogue: cat, Name: c.Node.Name, PublicURL: c.PublicBase()}, nil
}

// cmdNodeDKIM prints the DNS record that lets receivers verify the node's mail.
func cmdNodeDKIM(ctx context.Context, e *env, c config.Config) error {
	key, err := nodekey.LoadOrCreate(c.Data)
	if err != nil {
		return err
	}
	q, err := openOutbound(c, nil, key, e.log)
	if err != nil {
		return err
	}
	name, value, err := q.DNSRecord()
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "%s. IN TXT \"%s\"\n", name, value)
	return nil
}
