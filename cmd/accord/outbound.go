package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/config"
	"github.com/accord-antispam/accord/internal/i18n"
	"github.com/accord-antispam/accord/internal/nodekey"
	"github.com/accord-antispam/accord/internal/outbound"
	"github.com/accord-antispam/accord/internal/smtpd"
	"github.com/accord-antispam/accord/internal/store/sqlstore"
)

// waitingMail names every kind of mail the node queues, for the warning
// when no relay is configured.
const waitingMail = "acknowledgements and answers to reporters, quarantine releases and digests, " +
	"consent confirmations and feedback (ARF) reports to senders wait in the queue (accord outbound list)"

// cmdOutbound: accord outbound list|show, the node's outbound mail queue.
func cmdOutbound(ctx context.Context, e *env, args []string) error {
	usage := func() error {
		fmt.Fprintln(e.stderr, `usage: accord outbound list [--config FILE] [--data DIR] [--state queued|sent|failed|bounced] [--kind KIND] [--limit N]
       accord outbound show [--config FILE] [--data DIR] [--raw] ID      (one mail: its attempts, last error and bounces)
With --raw, show prints the queued message itself (a confirmation or status link can be read
before a relay is set); the read is written to the audit log.
The node's own mail (acknowledgements, quarantine releases and digests, consent confirmations,
feedback reports) waits in this queue until the [outbound] relay takes it.`)
		return errUsage
	}
	if len(args) == 0 || (args[0] != "list" && args[0] != "show") {
		return usage()
	}
	fset, nf := nodeFlagSet(e, "outbound "+args[0])
	state := fset.String("state", "", "only mail in this state")
	kind := fset.String("kind", "", "only mail of this kind (ack, howto, quarantine-release, quarantine-digest, consent-confirm, fbl-report…)")
	limit := fset.Int("limit", 100, "at most this many, newest first")
	rawOut := fset.Bool("raw", false, "show: print the queued message itself (written to the audit log)")
	pos, err := parseInterleaved(fset, args[1:])
	if err != nil {
		return errUsage
	}
	c, err := nf.load()
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	return withStore(ctx, nf, func(st *sqlstore.Store) error {
		if args[0] == "show" {
			if len(pos) != 1 {
				return usage()
			}
			it, err := st.Mail(ctx, pos[0])
			if errors.Is(err, outbound.ErrNotFound) {
				return &exitError{code: 1, err: fmt.Errorf("no mail %s in the queue", pos[0])}
			} else if err != nil {
				return err
			}
			if *rawOut {
				// The queue holds people's mail (a released message, a
				// reporter's acknowledgement): the read is audited first,
				// and not made if it cannot be.
				if err := st.AppendAudit(ctx, access.Event{At: time.Now().UTC(), Actor: cliActor(), Action: access.AuditView,
					Target: "outbound:" + it.ID, Detail: "raw message (" + string(it.Kind) + ") to " + it.To}); err != nil {
					return fmt.Errorf("outbound show: writing the audit entry: %w", err)
				}
				_, err := e.stdout.Write(it.Raw)
				return err
			}
			fmt.Fprintf(e.stdout, "id: %s\nkind: %s\nref: %s\nto: %s\nenvelope sender: %s\nmessage-id: %s\nstate: %s\nattempts: %d\nqueued: %s\nupdated: %s\n",
				it.ID, it.Kind, it.Ref, it.To, it.From, it.MessageID, it.State, it.Attempts, it.CreatedAt.Format(time.RFC3339), it.UpdatedAt.Format(time.RFC3339))
			if it.State == outbound.Queued {
				fmt.Fprintf(e.stdout, "next attempt: %s\n", it.NextAt.Format(time.RFC3339))
			}
			fmt.Fprintf(e.stdout, "last error: %s\n", orDash(it.LastError))
			bs, err := st.Bounces(ctx, it.ID)
			if err != nil {
				return err
			}
			for _, b := range bs {
				fmt.Fprintf(e.stdout, "bounce: %s %s %s %s\n", b.Kind, b.Action, b.Status, b.Diagnostic)
			}
			return nil
		}
		if len(pos) != 0 {
			return usage()
		}
		items, err := st.Mails(ctx, outbound.MailFilter{State: outbound.State(*state), Kind: outbound.Kind(*kind), Limit: *limit})
		if err != nil {
			return err
		}
		counts, err := st.MailQueue(ctx)
		if err != nil {
			return err
		}
		relay := c.Outbound.Relay
		if relay == "" {
			relay = "none configured ([outbound] relay): nothing is delivered"
		}
		fmt.Fprintf(e.stdout, "relay: %s\nqueued %d, sent %d, failed %d, bounced %d\n", relay,
			counts[outbound.Queued], counts[outbound.Sent], counts[outbound.Failed], counts[outbound.Bounced])
		tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tQUEUED\tKIND\tREF\tTO\tSTATE\tATTEMPTS\tLAST ERROR")
		for _, it := range items {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", it.ID, it.CreatedAt.Format(time.RFC3339), it.Kind, orDash(it.Ref), it.To, it.State, it.Attempts, orDash(it.LastError))
		}
		return tw.Flush()
	})
}

// fromAddress is the node's mail identity: [outbound] from, or desk@ the
// SMTP hostname with the node's name.
func fromAddress(c config.Config) string {
	if c.Outbound.From != "" {
		return c.Outbound.From
	}
	return (&mail.Address{Name: c.Node.Name, Address: "desk@" + c.SMTP.Hostname}).String()
}

// ownMailKey names the secret, derived from the node's key, that keys
// the mark the outbound queue puts on the node's own mail and the filter
// verifies (package ownmail): the two must derive the same.
const ownMailKey = "own-mail-mark"

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
		HelloName: c.SMTP.Hostname, Selector: c.Outbound.DKIMSelector, DKIM: dk, Secret: key.Derive("outbound-mail"), MarkKey: key.Derive(ownMailKey), MaxPerHour: c.Outbound.MaxPerHour,
		Delimiters: c.Filter.RecipientDelimiter, ConfirmPerMailboxDay: c.Senders.ConfirmationsPerMailboxDay, ConfirmPerDomainHour: c.Senders.ConfirmationsPerDomainHour}
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

// dkimPin is the pinned name of the DKIM record every instance signs with.
const dkimPin = "dkim.record"

// pinDKIM checks that this data folder's DKIM key is the one the node's
// other instances sign with. The first instance on a store pins its
// record; a later one with another key (its data folder made its own at
// first start because dkim.key was not copied) would sign half the node's
// mail with a key no DNS record publishes, and every receiver would fail
// it. adopt makes this folder's key the node's (after publishing its
// record).
func pinDKIM(ctx context.Context, c config.Config, st *sqlstore.Store, q *outbound.Queue, adopt bool) error {
	_, rec, err := q.DNSRecord()
	if err != nil {
		return err
	}
	pinned, err := st.Pin(ctx, dkimPin, rec, adopt)
	if err != nil {
		return err
	}
	if pinned != rec {
		path := c.Outbound.DKIMKey
		if path == "" {
			path = filepath.Join(c.Data, "dkim.key")
		}
		return fmt.Errorf("the DKIM key in %s (fingerprint %s) is not the key this node's other instances sign its mail with (fingerprint %s): "+
			"copy dkim.key from an instance of this node into this data folder; or, to change the node's DKIM key on purpose, "+
			"publish this key's record (accord node dkim) and run accord node dkim --adopt", path, recordPrint(rec), recordPrint(pinned))
	}
	return nil
}

// recordPrint is a short fingerprint of a DKIM record, to tell keys apart.
func recordPrint(rec string) string {
	sum := sha256.Sum256([]byte(rec))
	return hex.EncodeToString(sum[:8])
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
	return &smtpd.Answers{Queue: q, Catalogue: cat, Name: c.Node.Name, PublicURL: c.PublicBase(), Mailbox: c.MailboxAddress()}, nil
}

// cmdNodeDKIM prints the DNS record that lets receivers verify the node's
// mail, and says when it is not the record the node's instances sign with;
// adopt makes this data folder's key the node's.
func cmdNodeDKIM(ctx context.Context, e *env, c config.Config, adopt bool) error {
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
	st, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintf(e.stdout, "%s. IN TXT \"%s\"\n", name, value)
	if err := pinDKIM(ctx, c, st, q, adopt); err != nil {
		return err
	}
	if adopt {
		fmt.Fprintf(e.stderr, "every instance of this node now must sign with this key (fingerprint %s): copy this dkim.key to each of them\n", recordPrint(value))
	}
	return nil
}
