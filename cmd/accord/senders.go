package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/config"
	"github.com/accord-antispam/accord/internal/consent"
	"github.com/accord-antispam/accord/internal/nodekey"
	"github.com/accord-antispam/accord/internal/outbound"
	"github.com/accord-antispam/accord/internal/store/sqlstore"
)

// consentKeys derives the consent service's secrets from the node's key.
func consentKeys(k *nodekey.Key) consent.Keys {
	return consent.Keys{Recipients: k.Derive("consent-recipients"), TokenCipher: k.Derive("unsubscribe-cipher"), TokenMAC: k.Derive("unsubscribe-mac")}
}

// newConsent builds the consent service of a node.
func newConsent(c config.Config, k *nodekey.Key, st *sqlstore.Store, m consent.Mailer, log *slog.Logger) (*consent.Service, error) {
	return consent.New(st, consent.Options{Keys: consentKeys(k), Signer: k.Private, Mailer: m, BaseURL: c.SendersURL(),
		MailHost: c.SendersMailDomain(), NodeName: c.Node.Name, Jurisdictions: c.Analysis.Jurisdictions,
		ConfirmTTL: time.Duration(c.Senders.ConfirmDays) * 24 * time.Hour, MaxConfirmationsPerHour: c.Senders.ConfirmationsPerHour,
		Fold: func(a string) string { return outbound.MailboxKey(a, c.Filter.RecipientDelimiter) }, Log: log})
}

// senderNode is a node's store and consent service, for one command.
type senderNode struct {
	cfg   config.Config
	store *sqlstore.Store
	svc   *consent.Service
}

func openSenders(ctx context.Context, e *env, nf *nodeFlags) (*senderNode, error) {
	c, err := nf.loadNode()
	if err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	k, err := nodekey.LoadOrCreate(c.Data)
	if err != nil {
		return nil, err
	}
	st, err := openStore(ctx, c)
	if err != nil {
		return nil, err
	}
	svc, err := newConsent(c, k, st, nil, e.log)
	if err != nil {
		st.Close()
		return nil, err
	}
	return &senderNode{cfg: c, store: st, svc: svc}, nil
}

const senderHelp = `subcommands:
  add DOMAIN --contact ADDR [--name N] [--domains D,…] [--postal TEXT] [--jurisdiction EU,US] [--feedback ADDR]
                 register a sender; prints its API token once
  token DOMAIN   a new API token for a registered sender
  list           the registered senders, with complaint rates and overdue opt-outs
  show DOMAIN    one sender: domains, campaigns with complaint rates, overdue opt-outs
  suspend DOMAIN --reason TEXT     no links, records or labels until reinstated
  reinstate DOMAIN
`

func cmdSender(ctx context.Context, e *env, args []string) error {
	return subcommands(ctx, e, "sender", args, map[string]func(context.Context, *env, []string) error{
		"add": senderAdd, "token": senderToken, "list": senderList, "show": senderShow,
		"suspend": func(ctx context.Context, e *env, a []string) error {
			return senderStatus(ctx, e, a, consent.SenderSuspended)
		},
		"reinstate": func(ctx context.Context, e *env, a []string) error {
			return senderStatus(ctx, e, a, consent.SenderActive)
		},
	}, senderHelp)
}

// parseInterleaved parses flags that may come before or after the
// positional arguments ("sender add shop.example --contact …", "policy set
// ana@example.org --spam 4"): the flag package stops at the first one.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func senderAdd(ctx context.Context, e *env, args []string) error {
	fs, nf := nodeFlagSet(e, "sender add")
	contact := fs.String("contact", "", "who answers for the sender (a data protection officer's address): required")
	name := fs.String("name", "", "legal name, as recipients should see it")
	domains := fs.String("domains", "", "further domains it sends from or signs with (DKIM d=), comma-separated")
	postal := fs.String("postal", "", "physical postal address")
	juris := fs.String("jurisdiction", "", "where its recipients live, comma-separated (default: the node's analysis.jurisdictions)")
	feedback := fs.String("feedback", "", "where complaints about its mail are sent as ARF (default: --contact)")
	pos, err := parseInterleaved(fs, args)
	if err != nil || len(pos) != 1 || *contact == "" {
		fmt.Fprintln(e.stderr, "usage: accord sender add DOMAIN --contact ADDRESS [flags]")
		fs.PrintDefaults()
		return errUsage
	}
	n, err := openSenders(ctx, e, nf)
	if err != nil {
		return err
	}
	defer n.store.Close()
	sd, err := n.svc.AddSender(ctx, consent.Sender{ID: pos[0], Name: *name, Contact: *contact, Domains: splitList(*domains),
		PostalAddress: *postal, Jurisdictions: splitList(*juris), FeedbackTo: *feedback})
	var inv *consent.InvalidError
	if errors.As(err, &inv) {
		return &exitError{code: 2, err: err}
	}
	if err != nil {
		return err
	}
	plain, t := access.NewToken(nil, access.Sender, sd.ID, time.Now())
	if err := n.store.CreateToken(ctx, t); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "sender %s registered (domains %s; jurisdictions %s)\n", sd.ID, strings.Join(sd.Domains, ", "), strings.Join(sd.Jurisdictions, ", "))
	fmt.Fprintf(e.stdout, "API token %s for sender %s; it is shown once, keep it secret:\n%s\n", t.ID, sd.ID, plain)
	return nil
}

// oneSender opens the node for "accord sender VERB DOMAIN" and finds the
// sender; the caller closes n.store.
func oneSender(ctx context.Context, e *env, verb string, args []string) (*senderNode, consent.Sender, error) {
	fs, nf := nodeFlagSet(e, "sender "+verb)
	pos, err := parseInterleaved(fs, args)
	if err != nil || len(pos) != 1 {
		fmt.Fprintf(e.stderr, "usage: accord sender %s DOMAIN [--data DIR]\n", verb)
		return nil, consent.Sender{}, errUsage
	}
	n, err := openSenders(ctx, e, nf)
	if err != nil {
		return nil, consent.Sender{}, err
	}
	sd, err := n.store.Sender(ctx, strings.ToLower(pos[0]))
	if err != nil {
		n.store.Close()
		return nil, consent.Sender{}, fmt.Errorf("sender %s: %w", pos[0], err)
	}
	return n, sd, nil
}

func senderToken(ctx context.Context, e *env, args []string) error {
	n, sd, err := oneSender(ctx, e, "token", args)
	if err != nil {
		return err
	}
	defer n.store.Close()
	plain, t := access.NewToken(nil, access.Sender, sd.ID, time.Now())
	if err := n.store.CreateToken(ctx, t); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "API token %s for sender %s; it is shown once, keep it secret:\n%s\n", t.ID, sd.ID, plain)
	return nil
}

func senderList(ctx context.Context, e *env, args []string) error {
	fs, nf := nodeFlagSet(e, "sender list")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return errUsage
	}
	n, err := openSenders(ctx, e, nf)
	if err != nil {
		return err
	}
	defer n.store.Close()
	ss, err := n.store.Senders(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SENDER\tSTATUS\tSENT\tCOMPLAINTS\tRATE\tOVERDUE OPT-OUTS\tCONTACT")
	for _, sd := range ss {
		st, err := n.svc.Standing(ctx, sd.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.3f%%\t%d\t%s\n", sd.ID, sd.Status, st.Sent, st.Complaints, st.Rate*100, st.Overdue, sd.Contact)
	}
	return tw.Flush()
}

func senderShow(ctx context.Context, e *env, args []string) error {
	n, sd, err := oneSender(ctx, e, "show", args)
	if err != nil {
		return err
	}
	defer n.store.Close()
	st, err := n.svc.Standing(ctx, sd.ID)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "sender %s (%s), %s", sd.ID, orDash(sd.Name), sd.Status)
	if sd.Reason != "" {
		fmt.Fprintf(e.stdout, ": %s", sd.Reason)
	}
	fmt.Fprintf(e.stdout, "\ncontact %s; complaints to %s\ndomains %s\njurisdictions %s\npostal address %s\n",
		sd.Contact, sd.FeedbackAddress(), strings.Join(sd.Domains, ", "), strings.Join(sd.Jurisdictions, ", "), orDash(sd.PostalAddress))
	fmt.Fprintf(e.stdout, "complaint rate %.3f%% (%d complaints, %d messages); in good standing: %v\n", st.Rate*100, st.Complaints, st.Sent, st.Good)
	if st.JudgedBy == consent.JudgedByComplainants {
		fmt.Fprintf(e.stdout, "judged by complainants until %d messages are counted: %d of %d\n", consent.MinRateVolume, st.Complainants, consent.MinComplainants)
	} else {
		fmt.Fprintf(e.stdout, "judged by the complaint rate (%d messages or more counted)\n", consent.MinRateVolume)
	}
	for _, why := range st.Why {
		fmt.Fprintf(e.stdout, "  - %s\n", why)
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nLIST\tCAMPAIGN\tSENT\tCOMPLAINTS\tRATE")
	for _, c := range st.Campaigns {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.3f%%\n", c.List, c.Name, c.Sent(), c.Complaints, c.Rate()*100)
	}
	tw.Flush()
	od, err := n.svc.Overdue(ctx, sd.ID)
	if err != nil {
		return err
	}
	if len(od) > 0 {
		fmt.Fprintf(e.stdout, "\n%d opt-outs not honoured by their deadline:\n", len(od))
		for _, x := range od {
			fmt.Fprintf(e.stdout, "  %s list %s (%s, %s): due %s under %s\n", x.Recipient, orDash(x.List), x.Reason,
				x.RequestedAt.Format(time.RFC3339), x.Deadline.Format(time.RFC3339), x.Jurisdiction)
		}
	}
	return nil
}

func senderStatus(ctx context.Context, e *env, args []string, status string) error {
	fs, nf := nodeFlagSet(e, "sender "+status)
	reason := fs.String("reason", "", "why (kept in the sender's log)")
	pos, err := parseInterleaved(fs, args)
	if err != nil || len(pos) != 1 || status == consent.SenderSuspended && *reason == "" {
		fmt.Fprintln(e.stderr, "usage: accord sender suspend DOMAIN --reason TEXT | accord sender reinstate DOMAIN")
		return errUsage
	}
	n, err := openSenders(ctx, e, nf)
	if err != nil {
		return err
	}
	defer n.store.Close()
	sd, err := n.svc.SetSenderStatus(ctx, strings.ToLower(pos[0]), status, *reason)
	if err != nil {
		return err
	}
	if status == consent.SenderSuspended {
		// Every label issued until now goes into the status list.
		if err := n.store.RevokeSenderLabels(ctx, sd.ID, time.Now(), "sender suspended: "+*reason); err != nil {
			return err
		}
	}
	fmt.Fprintf(e.stdout, "sender %s is %s\n", sd.ID, sd.Status)
	return nil
}

func cmdConsent(ctx context.Context, e *env, args []string) error {
	return subcommands(ctx, e, "consent", args, map[string]func(context.Context, *env, []string) error{"verify": consentVerify},
		"subcommands:\n  verify [--key NODEKEY] PROOF.json   check a consent proof offline\n")
}

// consentVerify checks a proof. Exit 0: it verifies and is signed by the
// pinned key; 1: it does not verify; 3: it verifies but no key was pinned,
// so only its integrity is shown, not who issued it.
func consentVerify(_ context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("consent verify", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	pin := fs.String("key", "", "the issuing node's public key (accord node key) the proof must be signed with")
	pos, err := parseInterleaved(fs, args)
	if err != nil || len(pos) != 1 {
		fmt.Fprintln(e.stderr, "usage: accord consent verify [--key NODEKEY] PROOF.json")
		fmt.Fprintln(e.stderr, "Check a consent proof offline. Exit 0 verified and signed by --key; 1 does not verify; 3 verified, but no key pinned.")
		return errUsage
	}
	pinned, err := pinnedKey(*pin)
	if err != nil {
		return err
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return err
	}
	defer f.Close()
	c, err := consent.VerifyProof(f)
	if err != nil {
		return err
	}
	p := c.Payload
	fmt.Fprintf(e.stdout, "consent proof for %s (%s) from sender %s, list %s, issued %s\n", p.Recipient, p.RecipientHash, p.Sender.ID,
		orDash(p.List), p.IssuedAt.Format(time.RFC3339))
	fmt.Fprintf(e.stdout, "%s\n%d records, %d opt-outs, %d events (log head %d)\n", p.Summary.Text, len(p.Records), len(p.Suppressions), len(p.Events), p.Head.Seq)
	fmt.Fprintf(e.stdout, "signed by node key %s (fingerprint %s)\n", c.Key, c.Fingerprint)
	if pinned != "" && !pinMatches(pinned, c.Key) {
		c.Problems = append(c.Problems, "signed by "+c.Key+", not by the pinned key")
	}
	if !c.OK() {
		for _, pr := range c.Problems {
			fmt.Fprintln(e.stdout, "PROBLEM:", pr)
		}
		return &exitError{code: 1, err: fmt.Errorf("the proof does not verify (%d problems)", len(c.Problems))}
	}
	if pinned == "" {
		fmt.Fprintln(e.stdout, "INTACT, BUT NOT PINNED: the signature and every event's hash match, but anyone can sign with a key of their own;")
		fmt.Fprintln(e.stdout, "compare the key above with the node's published key, or pass it as --key.")
		return &exitError{code: 3}
	}
	fmt.Fprintln(e.stdout, "OK: signed by the pinned node key; every event matches its chain hash and the records agree with the events")
	return nil
}

// mailtoDoor is the SMTP listener's opt-out door (RFC 2369 mailto).
type mailtoDoor struct{ svc *consent.Service }

func (d mailtoDoor) MailtoToken(addr string) (string, bool, error) { return d.svc.MailtoToken(addr) }

func (d mailtoDoor) MailtoOptOut(ctx context.Context, tok, from, ip string) (bool, error) {
	res, err := d.svc.Unsubscribe(ctx, tok, consent.ViaMailto, false, consent.Client{IP: ip, Method: "smtp"})
	return res.Already, err
}

// outboundMailer sends the consent service's and the feedback loop's mail
// through the node's outbound queue.
type outboundMailer struct{ q *outbound.Queue }

// CancelConfirmations implements consent.Canceller.
func (m outboundMailer) CancelConfirmations(ctx context.Context, sender string) (int, error) {
	return m.q.CancelConfirmations(ctx, sender)
}

func (m outboundMailer) Send(ctx context.Context, x consent.Mail) (string, error) {
	it, err := m.q.Send(ctx, outbound.Mail{Kind: outbound.Kind(x.Kind), Ref: x.Ref, To: x.To, Subject: x.Subject, Text: x.Text, Raw: x.Raw, FromName: x.FromName,
		Sender: x.Sender})
	var lim *outbound.LimitError
	if errors.As(err, &lim) {
		return "", &consent.RateError{What: lim.Error(), Retry: lim.Per} // the sender may ask again later: 429
	}
	return it.ID, err
}
