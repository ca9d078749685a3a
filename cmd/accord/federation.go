package main

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	neturl "net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/config"
	"github.com/accord-antispam/accord/internal/federation"
	"github.com/accord-antispam/accord/internal/federation/fedhttp"
	"github.com/accord-antispam/accord/internal/federation/stix"
	"github.com/accord-antispam/accord/internal/nodekey"
	"github.com/accord-antispam/accord/internal/store/sqlstore"
)

// fedNode is what the federation commands open: the store, the key and
// the service over them.
type fedNode struct {
	cfg   config.Config
	store *sqlstore.Store
	key   *nodekey.Key
	svc   *federation.Service
}

func openFed(ctx context.Context, e *env, nf *nodeFlags) (*fedNode, error) {
	return openFedAs(ctx, e, nf, false)
}

// openFedAs opens the node's federation; rotate makes the data folder's
// key the node's current key (accord keys rotate) where openFed refuses a
// key the store does not know as current.
func openFedAs(ctx context.Context, e *env, nf *nodeFlags, rotate bool) (*fedNode, error) {
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
	svc := &federation.Service{Store: st, Source: st, Key: k.Private, Jurisdiction: c.Node.Jurisdiction, Log: e.log,
		Window: c.Federation.Window.Duration, Transport: &fedhttp.Transport{}, MaxBytes: c.Federation.EnvelopeBytes}
	start := svc.Init
	if rotate {
		start = svc.Rotate
	}
	if err := start(ctx); err != nil {
		st.Close()
		return nil, err
	}
	return &fedNode{cfg: c, store: st, key: k, svc: svc}, nil
}

func (n *fedNode) Close() { n.store.Close() }

// subcommands runs one of a command's subcommands.
func subcommands(ctx context.Context, e *env, name string, args []string, subs map[string]func(context.Context, *env, []string) error, help string) error {
	if len(args) == 0 || subs[args[0]] == nil {
		fmt.Fprintf(e.stderr, "usage: accord %s SUBCOMMAND …\n%s", name, help)
		return errUsage
	}
	return subs[args[0]](ctx, e, args[1:])
}

// flags parses a subcommand's flags, allowing them after the positional
// arguments too ("peer add us --url …").
func parseFlags(e *env, fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(e.stderr)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, errUsage
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// nodeCmd is a subcommand that opens the node: its flags (the node's plus
// setup's), then run with the positional arguments.
func nodeCmd(name string, setup func(fs *flag.FlagSet), run func(ctx context.Context, e *env, n *fedNode, pos []string) error) func(context.Context, *env, []string) error {
	return func(ctx context.Context, e *env, args []string) error {
		fs := flag.NewFlagSet(name, flag.ContinueOnError)
		var nf nodeFlags
		nf.register(fs)
		if setup != nil {
			setup(fs)
		}
		pos, err := parseFlags(e, fs, args)
		if err != nil {
			return err
		}
		n, err := openFed(ctx, e, &nf)
		if err != nil {
			return err
		}
		defer n.Close()
		return run(ctx, e, n, pos)
	}
}

const keysHelp = `  show     print this node's public key, its fingerprint (compare it over the phone) and jurisdiction
  rotate   make a new key; the old one stays in the key history (tell every peer the new key)
`

func cmdKeys(ctx context.Context, e *env, args []string) error {
	return subcommands(ctx, e, "keys", args, map[string]func(context.Context, *env, []string) error{
		"show": nodeCmd("keys show", nil, func(ctx context.Context, e *env, n *fedNode, _ []string) error {
			fmt.Fprintf(e.stdout, "key          %s\nfingerprint  %s\njurisdiction %s\n", n.key.Public(), federation.Fingerprint(n.key.Private.Public().(ed25519.PublicKey)), orDash(n.cfg.Node.Jurisdiction))
			own, _ := n.store.OwnKeys(ctx)
			for _, k := range own {
				if !k.Retired.IsZero() {
					fmt.Fprintf(e.stdout, "retired      %s (%s to %s)\n", k.Key, k.Added.Format(time.DateOnly), k.Retired.Format(time.DateOnly))
				}
			}
			return nil
		}),
		"rotate": func(ctx context.Context, e *env, args []string) error {
			fs := flag.NewFlagSet("keys rotate", flag.ContinueOnError)
			var nf nodeFlags
			nf.register(fs)
			if _, err := parseFlags(e, fs, args); err != nil {
				return err
			}
			c, err := nf.loadNode()
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			old := filepath.Join(c.Data, nodekey.FileName)
			if _, err := nodekey.LoadOrCreate(c.Data); err != nil {
				return err
			}
			archived := fmt.Sprintf("%s.retired-%d", old, time.Now().Unix())
			if err := os.Rename(old, archived); err != nil {
				return fmt.Errorf("archive the old key: %w", err)
			}
			if _, err := nodekey.LoadOrCreate(c.Data); err != nil { // the new key
				os.Rename(archived, old)
				return err
			}
			n, err := openFedAs(ctx, e, &nf, true) // records the new key, retiring the old
			if err != nil {
				os.Remove(old)
				os.Rename(archived, old)
				return err
			}
			defer n.Close()
			fmt.Fprintf(e.stdout, "new key      %s\nfingerprint  %s\nThe old key is kept as %s. Give the new key to every peer (accord peer rotate-key on their side).\nRestart accord serve (every instance, with the new node.key copied to each): until then it signs with the old key.\n",
				n.key.Public(), federation.Fingerprint(n.key.Private.Public().(ed25519.PublicKey)), filepath.Base(archived))
			return nil
		},
	}, keysHelp)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

const peerHelp = `  add NAME --url URL --key PUBKEY --jurisdiction XX [--agreement FILE]
  list | show NAME
  set-url NAME URL                  the peer's node moved
  suspend NAME | resume NAME        nothing is sent to or accepted from a suspended peer
  remove NAME                       for good: it cannot be resumed nor get a new token, key or agreement; its pending envelope, queued messages and TAXII tokens go
  pending NAME [--drop [--force]]   the envelope left pending for NAME; --drop asks NAME whether it holds it and records or drops it
  rotate-key NAME --key NEWKEY | revoke-key NAME [--key KEY] [--at TIME]
  agreement NAME FILE [--apply]     show how a new agreement changes what flows; --apply puts it in force
  preview NAME [--agreement FILE]   exactly what NAME would receive now, and why anything else would not
  sync NAME | sync --all            push to the peer what it may have and does not
  token NAME                        a token for NAME's TAXII client (its last line)
`

func cmdPeer(ctx context.Context, e *env, args []string) error {
	withNode := func(name string, setup func(fs *flag.FlagSet), run func(n *fedNode, pos []string) error) func(context.Context, *env, []string) error {
		return nodeCmd("peer "+name, setup, func(_ context.Context, _ *env, n *fedNode, pos []string) error { return run(n, pos) })
	}
	one := func(pos []string) (string, error) {
		if len(pos) != 1 {
			return "", errUsage
		}
		return pos[0], nil
	}
	var url, key, jur, agreementFile, at string
	var apply, all, drop, force bool
	status := func(s federation.Status) func(n *fedNode, pos []string) error {
		return func(n *fedNode, pos []string) error {
			name, err := one(pos)
			if err != nil {
				return err
			}
			if err := n.svc.SetPeerStatus(ctx, name, s); err != nil {
				return &exitError{code: 1, err: fmt.Errorf("peer %s: %w", name, err)}
			}
			if s == federation.StatusRemoved {
				revoked, err := revokePeerTokens(ctx, n.store, name)
				if err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "peer %s is removed: nothing more is sent to it or accepted from it; %d TAXII tokens revoked; its custody logs and what it sent stay\n", name, revoked)
				return nil
			}
			fmt.Fprintf(e.stdout, "peer %s is %s\n", name, s)
			return nil
		}
	}
	return subcommands(ctx, e, "peer", args, map[string]func(context.Context, *env, []string) error{
		"add": withNode("add", func(fs *flag.FlagSet) {
			fs.StringVar(&url, "url", "", "the peer node's base URL")
			fs.StringVar(&key, "key", "", "the peer's public key (accord keys show on its side)")
			fs.StringVar(&jur, "jurisdiction", "", "the peer's jurisdiction: ISO 3166 code or EU")
			fs.StringVar(&agreementFile, "agreement", "", "the agreement (MoU) file; without one nothing is shared")
		}, func(n *fedNode, pos []string) error {
			name, err := one(pos)
			if err != nil || !federation.ValidName(name) {
				return &exitError{code: 2, err: fmt.Errorf("peer names are lower-case letters, digits, - and _ (got %q)", strings.Join(pos, " "))}
			}
			pub, err := federation.ParsePublicKey(key)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			jur = strings.ToUpper(strings.TrimSpace(jur))
			if err := federation.CheckJurisdiction(jur); err != nil {
				return &exitError{code: 2, err: fmt.Errorf("--jurisdiction: %w (or EU)", err)}
			}
			if own, err := n.svc.IsOwnKey(ctx, key); err != nil {
				return err
			} else if own {
				return &exitError{code: 2, err: fmt.Errorf("--key: %w: a node cannot be its own peer", federation.ErrOwnKey)}
			}
			if err := checkURL(url); err != nil {
				return &exitError{code: 2, err: err}
			}
			var a *federation.Agreement
			if agreementFile != "" {
				if a, err = readAgreement(agreementFile); err != nil {
					return &exitError{code: 2, err: err}
				}
				if err := a.Covers(name); err != nil {
					return &exitError{code: 2, err: fmt.Errorf("--agreement: %w", err)}
				}
			}
			now := time.Now()
			p := federation.Peer{Name: name, URL: url, Jurisdiction: jur, Status: federation.StatusActive, Added: now, Agreement: a, Collection: federation.NewUUID(),
				Keys: []federation.PeerKey{{Key: base64.StdEncoding.EncodeToString(pub), Status: federation.KeyActive, Added: now}}}
			if err := n.store.AddPeer(ctx, p); errors.Is(err, federation.ErrKeyTaken) {
				return &exitError{code: 2, err: fmt.Errorf("--key: %w", err)}
			} else if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "peer %s (%s) added; key fingerprint %s — compare it with the peer's over the phone\n", name, jur, federation.Fingerprint(pub))
			if a == nil {
				fmt.Fprintln(e.stdout, "no agreement: nothing will be shared with it until one is applied (accord peer agreement)")
			}
			fmt.Fprintf(e.stdout, "the peer must add this node too (accord peer add on its side, with this node's key from accord keys show, and an agreement of its own — share = [] if it sends nothing)\n")
			if n.cfg.Analysis.Resolver == config.ResolverOffline {
				fmt.Fprintln(e.stdout, "warning: the resolver is offline, so this node checks no SPF, DKIM or DMARC and shares no spam's sender domain with partners (only origins, link domains and links); set [analysis] resolver = \"live\"")
			}
			return nil
		}),
		"list": withNode("list", nil, func(n *fedNode, _ []string) error {
			ps, err := n.store.Peers(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tJURISDICTION\tSTATUS\tAGREEMENT\tSHARES\tURL")
			for _, p := range ps {
				ag, sh := "-", "-"
				if p.Agreement != nil {
					ag = fmt.Sprintf("%s v%d", p.Agreement.ID, p.Agreement.Version)
					sh = kindsText(p.Agreement.Share)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, p.Jurisdiction, p.Status, ag, sh, p.URL)
			}
			return tw.Flush()
		}),
		"show": withNode("show", nil, func(n *fedNode, pos []string) error {
			name, err := one(pos)
			if err != nil {
				return err
			}
			p, err := n.store.Peer(ctx, name)
			if err != nil {
				return fmt.Errorf("peer %s: %w", name, err)
			}
			l, _ := n.store.Link(ctx, name)
			fmt.Fprintf(e.stdout, "peer %s (%s), %s, %s\nenvelopes sent %d, received %d\nTAXII collection %s\n", p.Name, p.Jurisdiction, p.Status, p.URL, l.OutSeq, l.InSeq, p.Collection)
			for _, k := range p.Keys {
				pub, _ := federation.ParsePublicKey(k.Key)
				fmt.Fprintf(e.stdout, "key %s %s (%s) since %s\n", k.Status, k.Key, federation.Fingerprint(pub), k.Changed.Format(time.RFC3339))
				if !k.RetiredAt.IsZero() && k.Status == federation.KeyRevoked {
					fmt.Fprintf(e.stdout, "    retired %s before its revocation\n", k.RetiredAt.Format(time.RFC3339))
				}
			}
			if p.Agreement != nil {
				fmt.Fprintf(e.stdout, "agreement %s v%d: shares %s up to TLP:%s, origins %s, personal data %v, retention %d days\n",
					p.Agreement.ID, p.Agreement.Version, kindsText(p.Agreement.Share), strings.ToUpper(string(p.Agreement.TLPMax)),
					strings.Join(p.Agreement.Origins, ","), p.Agreement.PersonalData, p.Agreement.RetentionDays)
			} else {
				fmt.Fprintln(e.stdout, "no agreement: nothing is shared")
			}
			return nil
		}),
		"set-url": withNode("set-url", nil, func(n *fedNode, pos []string) error {
			if len(pos) != 2 {
				return errUsage
			}
			if err := checkURL(pos[1]); err != nil {
				return &exitError{code: 2, err: err}
			}
			if err := n.svc.SetPeerURL(ctx, pos[0], pos[1]); err != nil {
				return &exitError{code: 1, err: fmt.Errorf("peer %s: %w", pos[0], err)}
			}
			fmt.Fprintf(e.stdout, "peer %s is now reached at %s\n", pos[0], pos[1])
			return nil
		}),
		"pending": withNode("pending", func(fs *flag.FlagSet) {
			fs.BoolVar(&drop, "drop", false, "ask the peer whether it holds the envelope: record it if so, else set it aside (the peer refuses it from then on; its items are decided again)")
			fs.BoolVar(&force, "force", false, "with --drop: set it aside without asking (the peer cannot be reached); the next sync asks the peer and records it if it arrived")
		}, func(n *fedNode, pos []string) error {
			name, err := one(pos)
			if err != nil {
				return err
			}
			// A peer this node does not know has no link, not "nothing
			// pending": say so, as received --peer does.
			if _, err := n.store.Peer(ctx, name); err != nil {
				return &exitError{code: 1, err: fmt.Errorf("peer %s: %w", name, err)}
			}
			pi, err := n.svc.PendingOf(ctx, name)
			if err != nil {
				return fmt.Errorf("peer %s: %w", name, err)
			}
			if pi == nil {
				fmt.Fprintf(e.stdout, "no envelope is pending for %s\n", name)
				return nil
			}
			pub, _ := federation.ParsePublicKey(pi.To)
			fmt.Fprintf(e.stdout, "envelope %d pending for %s since %s: %d items, %d withdrawals, %d assistance messages, decided under agreement version %d, sealed for key %s\n",
				pi.Seq, name, pi.BuiltAt, pi.Items, pi.Withdrawn, pi.Messages, pi.Agreement, federation.Fingerprint(pub))
			if !drop {
				fmt.Fprintln(e.stdout, "it is never sent as it is: the next sync asks the peer whether it holds it, records it if so, and otherwise decides its items again")
				return nil
			}
			if err := n.svc.DropPending(ctx, name, force); err != nil {
				return &exitError{code: 1, err: err}
			}
			if after, _ := n.svc.PendingOf(ctx, name); after == nil {
				fmt.Fprintf(e.stdout, "envelope %d is settled: nothing is pending for %s\n", pi.Seq, name)
			}
			return nil
		}),
		"suspend": withNode("suspend", nil, status(federation.StatusSuspended)),
		"resume":  withNode("resume", nil, status(federation.StatusActive)),
		"remove":  withNode("remove", nil, status(federation.StatusRemoved)),
		"rotate-key": withNode("rotate-key", func(fs *flag.FlagSet) {
			fs.StringVar(&key, "key", "", "the peer's new public key")
		}, func(n *fedNode, pos []string) error {
			name, err := one(pos)
			if err != nil {
				return err
			}
			pub, err := federation.ParsePublicKey(key)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			key = base64.StdEncoding.EncodeToString(pub)
			if err := notRemoved(ctx, n, name); err != nil {
				return err
			}
			if own, err := n.svc.IsOwnKey(ctx, key); err != nil {
				return err
			} else if own {
				return &exitError{code: 2, err: fmt.Errorf("--key: %w", federation.ErrOwnKey)}
			}
			back := false
			if p, err := n.store.Peer(ctx, name); err == nil {
				for _, k := range p.Keys {
					back = back || k.Key == key && k.Status == federation.KeyRetired
				}
			}
			if err := n.store.AddPeerKey(ctx, name, key, time.Now()); errors.Is(err, federation.ErrKeyTaken) {
				return &exitError{code: 2, err: fmt.Errorf("--key: %w", err)}
			} else if err != nil {
				return err
			}
			if back {
				fmt.Fprintf(e.stdout, "peer %s: its earlier key %s is in force again (the rotation is undone); the key it replaced is retired\n", name, federation.Fingerprint(pub))
				return nil
			}
			fmt.Fprintf(e.stdout, "peer %s: new key in force; the old one is retired (it still verifies past checkpoints, not new envelopes)\n", name)
			return nil
		}),
		"revoke-key": withNode("revoke-key", func(fs *flag.FlagSet) {
			fs.StringVar(&key, "key", "", "the key to revoke (default: the active one)")
			fs.StringVar(&at, "at", "", "from when the key is not to be trusted (RFC 3339; default now): checkpoints stored before it still verify")
		}, func(n *fedNode, pos []string) error {
			name, err := one(pos)
			if err != nil {
				return err
			}
			p, err := n.store.Peer(ctx, name)
			if err != nil {
				return fmt.Errorf("peer %s: %w", name, err)
			}
			k := strings.TrimSpace(key)
			if k == "" {
				var ok bool
				if k, ok = p.ActiveKey(); !ok {
					return fmt.Errorf("peer %s has no active key", name)
				}
			}
			when := time.Now()
			if at != "" {
				if when, err = time.Parse(time.RFC3339, at); err != nil {
					return &exitError{code: 2, err: fmt.Errorf("--at: %w", err)}
				}
				if when.After(time.Now()) {
					return &exitError{code: 2, err: errors.New("--at: a revocation cannot start in the future")}
				}
			}
			if err := n.store.RevokeKey(ctx, name, k, when); err != nil {
				return fmt.Errorf("revoke: %w", err)
			}
			fmt.Fprintf(e.stdout, "peer %s: key %s revoked from %s; envelopes signed with it are refused, checkpoints stored before then still verify\n",
				name, k, when.UTC().Format(time.RFC3339))
			return nil
		}),
		"agreement": withNode("agreement", func(fs *flag.FlagSet) {
			fs.BoolVar(&apply, "apply", false, "put the new agreement in force (without it, only show the difference)")
		}, func(n *fedNode, pos []string) error {
			if len(pos) != 2 {
				return errUsage
			}
			if err := notRemoved(ctx, n, pos[0]); err != nil {
				return err
			}
			p, err := n.store.Peer(ctx, pos[0])
			if err != nil {
				return fmt.Errorf("peer %s: %w", pos[0], err)
			}
			a, err := readAgreement(pos[1])
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			if err := a.Covers(p.Name); err != nil {
				return &exitError{code: 2, err: err}
			}
			fmt.Fprintf(e.stdout, "agreement with %s: changes\n", p.Name)
			for _, d := range federation.Diff(p.Agreement, a) {
				fmt.Fprintln(e.stdout, "  "+d)
			}
			before, err := n.svc.Preview(ctx, p.Name, nil)
			if err != nil {
				return err
			}
			after, err := n.svc.Preview(ctx, p.Name, a)
			if err != nil {
				return err
			}
			gain, lose := 0, 0
			for i := range before {
				switch {
				case !before[i].Decision.Allow && after[i].Decision.Allow:
					gain++
					fmt.Fprintf(e.stdout, "  would start to flow: %s\n", before[i].Item.Key)
				case before[i].Decision.Allow && !after[i].Decision.Allow:
					lose++
					fmt.Fprintf(e.stdout, "  would stop: %s (%s)\n", before[i].Item.Key, after[i].Decision)
				}
			}
			fmt.Fprintf(e.stdout, "%d items would start to flow, %d would stop\n", gain, lose)
			if p.Agreement != nil && a.Version <= p.Agreement.Version {
				// The store refuses it: say so now, not after --apply.
				return &exitError{code: 2, err: fmt.Errorf("agreement version %d is not newer than the one in force (%d): a new version of the terms needs a higher version", a.Version, p.Agreement.Version)}
			}
			if !apply {
				fmt.Fprintln(e.stdout, "not applied: run again with --apply to put it in force")
				return nil
			}
			if err := n.store.SetAgreement(ctx, p.Name, a, time.Now()); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "agreement %s v%d in force for %s\n", a.ID, a.Version, p.Name)
			return nil
		}),
		"preview": withNode("preview", func(fs *flag.FlagSet) {
			fs.StringVar(&agreementFile, "agreement", "", "preview under this agreement instead of the one in force")
		}, func(n *fedNode, pos []string) error {
			name, err := one(pos)
			if err != nil {
				return err
			}
			var a *federation.Agreement
			if agreementFile != "" {
				if a, err = readAgreement(agreementFile); err != nil {
					return &exitError{code: 2, err: err}
				}
			}
			lines, err := n.svc.Preview(ctx, name, a)
			if err != nil {
				return err
			}
			sent, err := n.store.Sent(ctx, name)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "DECISION\tITEM\tKIND\tTLP\tORIGINS\tSTATE\tCLAUSE: REASON")
			sends, withdraws, denies := 0, 0, map[string]int{}
			listed := map[string]bool{}
			for _, l := range lines {
				listed[l.Item.Key] = true
				d := "deny"
				if l.Decision.Allow {
					d = "send"
					if l.State == "sent" {
						d = "has"
					} else {
						sends++
					}
				} else {
					denies[l.Decision.Clause]++
					if l.State != "new" {
						// The peer holds a version of it: the next round
						// withdraws it.
						d = "withdraw"
						withdraws++
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s: %s\n", d, l.Item.Key, l.Item.Kind, l.Item.TLP, orDash(strings.Join(l.Item.Origins, ",")),
					l.State, l.Decision.Clause, l.Decision.Reason)
			}
			// What the peer holds that this node no longer shares at all
			// (an erased report, a replaced item) is withdrawn too.
			var gone []string
			for k := range sent {
				if !listed[k] {
					gone = append(gone, k)
				}
			}
			sort.Strings(gone)
			for _, k := range gone {
				fmt.Fprintf(tw, "withdraw\t%s\t-\t-\t-\tsent\theld: no longer among what this node shares (erased, or replaced by another item)\n", k)
				withdraws++
			}
			tw.Flush()
			var ds []string
			for c, k := range denies {
				ds = append(ds, fmt.Sprintf("%s %d", c, k))
			}
			sort.Strings(ds)
			fmt.Fprintf(e.stdout, "%s to send, %s to withdraw; denied by clause: %s\n", plural(sends, "item"), plural(withdraws, "item"), orDash(strings.Join(ds, ", ")))
			return nil
		}),
		"sync": withNode("sync", func(fs *flag.FlagSet) {
			fs.BoolVar(&all, "all", false, "every active peer")
		}, func(n *fedNode, pos []string) error {
			names := pos
			if all {
				ps, err := n.store.Peers(ctx)
				if err != nil {
					return err
				}
				names = nil
				for _, p := range ps {
					if p.Status == federation.StatusActive {
						names = append(names, p.Name)
					}
				}
			}
			if len(names) == 0 {
				return errUsage
			}
			var failed error
			sh, err := n.svc.Collect(ctx)
			if err != nil {
				return err
			}
			for _, name := range names {
				res, err := n.svc.SyncShared(ctx, sh, name)
				if err != nil {
					fmt.Fprintf(e.stdout, "%s: FAILED: %v\n", name, err)
					failed = errors.Join(failed, err)
					continue
				}
				fmt.Fprintf(e.stdout, "%s: %s\n", name, res)
			}
			// The TAXII collections follow the set this round sent, as
			// serve's rounds do (serve's own pages would also see the
			// change, this spares the first page the work). A refresh
			// that meets serve's own at once is left to serve.
			feed := &stix.Feed{Fed: n.svc, Store: n.store, Name: n.cfg.Node.Name}
			if err := feed.Refresh(ctx, sh); err != nil {
				fmt.Fprintf(e.stderr, "warning: the TAXII collections were not brought up to date (the server does it on its next page): %v\n", err)
			}
			if failed != nil {
				return &exitError{code: 1, err: failed}
			}
			return nil
		}),
		"token": withNode("token", nil, func(n *fedNode, pos []string) error {
			name, err := one(pos)
			if err != nil {
				return err
			}
			if err := notRemoved(ctx, n, name); err != nil {
				return err
			}
			plain, t := access.NewToken(nil, access.Peer, name, time.Now())
			if err := n.store.CreateToken(ctx, t); err != nil {
				return err
			}
			// A new token does not end the earlier ones (a partner may run
			// two clients): say which stay valid, on stderr, so that the
			// token stays the output's last line for scripts.
			if ts, err := n.store.Tokens(ctx); err == nil {
				var others []string
				for _, o := range ts {
					if o.Role == access.Peer && o.Label == name && o.ID != t.ID && o.RevokedAt.IsZero() {
						others = append(others, o.ID)
					}
				}
				if len(others) > 0 {
					fmt.Fprintf(e.stderr, "note: peer %s's earlier TAXII tokens stay valid (%s); accord token revoke ID ends one\n", name, strings.Join(others, ", "))
				}
			}
			fmt.Fprintf(e.stdout, "TAXII token %s for peer %s (reads only its collections); shown once:\n%s\n", t.ID, name, plain)
			return nil
		}),
	}, peerHelp)
}

// notRemoved refuses to give a removed peer anything new — a token, a
// key, an agreement — so `token list` never shows a live token for a
// partner that is gone.
func notRemoved(ctx context.Context, n *fedNode, name string) error {
	p, err := n.store.Peer(ctx, name)
	if err != nil {
		return fmt.Errorf("peer %s: %w", name, err)
	}
	if p.Status == federation.StatusRemoved {
		return &exitError{code: 1, err: fmt.Errorf("%w: %s gets no new token, key or agreement", federation.ErrRemoved, name)}
	}
	return nil
}

// checkURL accepts an http or https base URL with a host.
func checkURL(raw string) error {
	u, err := neturl.Parse(strings.TrimSpace(raw))
	// A user name or password in the URL would be stored and printed back
	// by peer list and show: refused, and not echoed. A peer's node is
	// authenticated by its key, not by credentials in its URL.
	if err == nil && u.User != nil {
		return errors.New("a peer's URL cannot carry a user name or password (user:password@host): give it without them")
	}
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q is not a node's base URL (https://host[:port][/path])", raw)
	}
	return nil
}

// revokePeerTokens revokes the TAXII tokens given to a peer.
func revokePeerTokens(ctx context.Context, st *sqlstore.Store, peer string) (int, error) {
	toks, err := st.Tokens(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range toks {
		if t.Role == access.Peer && t.Label == peer && t.RevokedAt.IsZero() {
			if err := st.RevokeToken(ctx, t.ID, time.Now()); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

func kindsText(ks []federation.Kind) string {
	if len(ks) == 0 {
		return "nothing"
	}
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, ",")
}

func readAgreement(path string) (*federation.Agreement, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return federation.ParseAgreement(b)
}

const assistHelp = `  request PEER --type information|enforcement|alert --subject TEXT [--body TEXT] [--campaign ID] [--legal-basis TEXT]
  list [--peer NAME] [--at TIME]      requests with their deadlines; --at shows what is overdue at TIME (RFC 3339)
  show ID
  update ID --action acknowledge|accept|refuse|supply-information|measure-taken|close [--note TEXT]
Requests and updates are delivered at once when the peer answers, else at the next sync.
`

func cmdAssist(ctx context.Context, e *env, args []string) error {
	var typ, subject, body, camp, legal, peer, at, action, note, by string
	with := func(name string, setup func(fs *flag.FlagSet), run func(n *fedNode, pos []string) error) func(context.Context, *env, []string) error {
		return nodeCmd("assist "+name, func(fs *flag.FlagSet) {
			fs.StringVar(&by, "by", cliActor(), "who acts, for the request's history")
			if setup != nil {
				setup(fs)
			}
		}, func(_ context.Context, _ *env, n *fedNode, pos []string) error { return run(n, pos) })
	}
	deliver := func(n *fedNode, peer string) {
		if res, err := n.svc.Sync(ctx, peer); err != nil {
			fmt.Fprintf(e.stdout, "not delivered yet (%v); it is queued for the next sync\n", err)
		} else {
			fmt.Fprintf(e.stdout, "delivered to %s: %s\n", peer, res)
		}
	}
	return subcommands(ctx, e, "assist", args, map[string]func(context.Context, *env, []string) error{
		"request": with("request", func(fs *flag.FlagSet) {
			fs.StringVar(&typ, "type", "information", "information, enforcement or alert")
			fs.StringVar(&subject, "subject", "", "what is asked")
			fs.StringVar(&body, "body", "", "the details")
			fs.StringVar(&camp, "campaign", "", "the campaign it concerns")
			fs.StringVar(&legal, "legal-basis", "", "default: the agreement's")
		}, func(n *fedNode, pos []string) error {
			if len(pos) != 1 {
				return errUsage
			}
			r, err := n.svc.NewRequest(ctx, pos[0], federation.RequestType(typ), subject, body, camp, legal, by)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			due := "no deadline"
			if !r.Deadline.IsZero() {
				due = "answer due " + r.Deadline.Format(time.RFC3339)
			}
			fmt.Fprintf(e.stdout, "request %s (%s) to %s: %s\n", r.ID, r.Type, r.Peer, due)
			deliver(n, r.Peer)
			return nil
		}),
		"list": with("list", func(fs *flag.FlagSet) {
			fs.StringVar(&peer, "peer", "", "only this peer's")
			fs.StringVar(&at, "at", "", "judge deadlines at this time (RFC 3339) instead of now")
		}, func(n *fedNode, _ []string) error {
			now := time.Now()
			if at != "" {
				t, err := time.Parse(time.RFC3339, at)
				if err != nil {
					return &exitError{code: 2, err: fmt.Errorf("--at: %w", err)}
				}
				now = t
			}
			rs, err := n.store.Requests(ctx, peer)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tDIRECTION\tPEER\tTYPE\tSTATE\tDEADLINE\tSUBJECT")
			for _, r := range rs {
				dir := "outgoing"
				if r.Role == federation.Responder {
					dir = "incoming"
				}
				dl := "-"
				if !r.Deadline.IsZero() {
					dl = r.Deadline.Format(time.DateOnly)
					if r.Overdue(now) {
						dl += " OVERDUE"
					}
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, dir, r.Peer, r.Type, r.State, dl, r.Subject)
			}
			return tw.Flush()
		}),
		"show": with("show", nil, func(n *fedNode, pos []string) error {
			if len(pos) != 1 {
				return errUsage
			}
			r, err := n.store.Request(ctx, pos[0])
			if err != nil {
				return fmt.Errorf("request %s: %w", pos[0], err)
			}
			fmt.Fprintf(e.stdout, "%s: %s request, %s %s; state %s\nsubject: %s\n", r.ID, r.Type, map[federation.Role]string{federation.Requester: "to", federation.Responder: "from"}[r.Role], r.Peer, r.State, r.Subject)
			if r.Body != "" {
				fmt.Fprintf(e.stdout, "%s\n", r.Body)
			}
			if !r.Deadline.IsZero() {
				fmt.Fprintf(e.stdout, "deadline %s%s\n", r.Deadline.Format(time.RFC3339), map[bool]string{true: " (OVERDUE)"}[r.Overdue(time.Now())])
			}
			for _, ev := range r.Events {
				fmt.Fprintf(e.stdout, "  %s  %-20s → %-20s by %s  %s\n", ev.At.Format(time.RFC3339), ev.Action, ev.State, ev.By, ev.Note)
			}
			return nil
		}),
		"update": with("update", func(fs *flag.FlagSet) {
			fs.StringVar(&action, "action", "", "acknowledge, accept, refuse, supply-information, measure-taken or close")
			fs.StringVar(&note, "note", "", "the answer, the reason for a refusal, a remark")
		}, func(n *fedNode, pos []string) error {
			if len(pos) != 1 {
				return errUsage
			}
			r, err := n.svc.Transition(ctx, pos[0], federation.Action(action), note, by)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			fmt.Fprintf(e.stdout, "request %s is now %s\n", r.ID, r.State)
			deliver(n, r.Peer)
			return nil
		}),
	}, assistHelp)
}

const custodyHelp = `  verify PEER    recompute both custody logs of the link with PEER, check every checkpoint's two signatures (by keys valid
                 when it was stored) and every received item against the hash logged when it arrived
  compare PEER   ask PEER for its latest countersigned checkpoints and check both logs against them with RFC 6962
                 consistency proofs: a log truncated or changed on either side is found
`

func cmdCustody(ctx context.Context, e *env, args []string) error {
	return subcommands(ctx, e, "custody", args, map[string]func(context.Context, *env, []string) error{
		"verify": nodeCmd("custody verify", nil, func(ctx context.Context, e *env, n *fedNode, pos []string) error {
			if len(pos) != 1 {
				return errUsage
			}
			rep, err := n.svc.VerifyCustody(ctx, pos[0])
			if err != nil {
				return err
			}
			for _, st := range []struct {
				name string
				s    federation.LogState
			}{{"sent", rep.Out}, {"received", rep.In}} {
				cp := "no checkpoint"
				if st.s.Checkpoint != nil {
					cp = fmt.Sprintf("checkpoint of envelope %d countersigned", st.s.Checkpoint.Seq)
				}
				fmt.Fprintf(e.stdout, "%-8s size %d root %s (%s)\n", st.name, st.s.Size, st.s.Root, cp)
			}
			fmt.Fprintf(e.stdout, "items    %d received items checked against the hashes logged when they arrived\n", rep.Items)
			fmt.Fprintf(e.stdout, "assist   %d steps of mutual assistance requests checked against the messages logged\n", rep.Steps)
			for _, note := range rep.Notes {
				fmt.Fprintln(e.stdout, "NOTE:", note)
			}
			if len(rep.Problems) > 0 {
				for _, p := range rep.Problems {
					fmt.Fprintln(e.stdout, "PROBLEM:", p)
				}
				return &exitError{code: 1, err: fmt.Errorf("custody of the link with %s does not verify", pos[0])}
			}
			fmt.Fprintln(e.stdout, "OK: both logs verify, every checkpoint carries both signatures by keys valid when it was stored, and every received item and assistance step matches its logged hash")
			return nil
		}),
		"compare": nodeCmd("custody compare", nil, func(ctx context.Context, e *env, n *fedNode, pos []string) error {
			if len(pos) != 1 {
				return errUsage
			}
			c, err := n.svc.CompareCustody(ctx, pos[0])
			if err != nil {
				return &exitError{code: 1, err: err}
			}
			for _, side := range []struct {
				name string
				s    federation.Side
			}{{"sent", c.Sent}, {"received", c.Received}} {
				remote := "no checkpoint"
				if r := side.s.Remote; r != nil {
					remote = fmt.Sprintf("checkpoint of envelope %d: size %d root %s", r.Seq, r.Size, r.Root)
				}
				fmt.Fprintf(e.stdout, "%-8s here: size %d root %s; at %s: %s\n", side.name, side.s.LocalSize, side.s.LocalRoot, pos[0], remote)
			}
			if pub, err := federation.ParsePublicKey(c.AnsweredBy); err == nil {
				fmt.Fprintf(e.stdout, "answer   sealed by %s's key %s (fingerprint %s: its operator reads it with accord node fingerprint)\n", pos[0], c.AnsweredBy, federation.Fingerprint(pub))
			}
			for _, note := range c.Notes {
				fmt.Fprintln(e.stdout, "NOTE:", note)
			}
			if len(c.Problems) > 0 {
				for _, p := range c.Problems {
					fmt.Fprintln(e.stdout, "PROBLEM:", p)
				}
				return &exitError{code: 1, err: fmt.Errorf("the custody logs of the link with %s disagree", pos[0])}
			}
			if !c.History {
				fmt.Fprintf(e.stdout, "OK: both logs agree with %s's latest countersigned checkpoints (RFC 6962 consistency)\n", pos[0])
				return nil
			}
			fmt.Fprintf(e.stdout, "OK: both logs agree with %s's countersigned checkpoints (RFC 6962 consistency), every checkpoint stored here is the one %s stored, and every key of %s's here is one it has had\n", pos[0], pos[0], pos[0])
			return nil
		}),
	}, custodyHelp)
}

func cmdReceived(ctx context.Context, e *env, args []string) error {
	var peer, kind string
	var asJSON bool
	return nodeCmd("received", func(fs *flag.FlagSet) {
		fs.StringVar(&peer, "peer", "", "only from this peer")
		fs.StringVar(&kind, "kind", "", "only this kind")
		fs.BoolVar(&asJSON, "json", false, "every item in full with its terms, one JSON object a line")
	}, func(ctx context.Context, e *env, n *fedNode, _ []string) error {
		if kind != "" && !slices.Contains(federation.Kinds, federation.Kind(kind)) {
			return &exitError{code: 2, err: fmt.Errorf("--kind %q: want one of %s", kind, kindsText(federation.Kinds))}
		}
		if peer != "" {
			if _, err := n.store.Peer(ctx, peer); err != nil {
				return &exitError{code: 1, err: fmt.Errorf("peer %s: %w", peer, err)}
			}
		}
		items, err := n.store.Received(ctx, federation.ReceivedFilter{Peer: peer, Kind: federation.Kind(kind)})
		if err != nil {
			return err
		}
		if asJSON {
			enc := json.NewEncoder(e.stdout)
			for _, it := range items {
				if err := enc.Encode(receivedJSON(it)); err != nil {
					return err
				}
			}
			return nil
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PEER\tKIND\tITEM\tTLP\tORIGINS\tSTATUS\tENVELOPE\tRECEIVED\tEXPIRES\tSUMMARY")
		for _, it := range items {
			exp := "-"
			if !it.ExpiresAt.IsZero() {
				exp = it.ExpiresAt.Format(time.DateOnly)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", it.Peer, it.Item.Kind, it.Item.Key, it.Item.TLP, orDash(strings.Join(it.Item.Origins, ",")),
				it.Status(), it.Seq, it.ReceivedAt.Format(time.RFC3339), exp, it.Item.Summary())
		}
		return tw.Flush()
	})(ctx, e, args)
}

// receivedItem is a received item as `received --json` prints it: the
// item in full (its body as JSON), its terms, its proof and its status.
type receivedItem struct {
	Peer       string           `json:"peer"`
	Key        string           `json:"key"`
	Kind       federation.Kind  `json:"kind"`
	TLP        federation.TLP   `json:"tlp"`
	Origins    []string         `json:"origins,omitempty"`
	Campaign   string           `json:"campaign,omitempty"`
	Updated    time.Time        `json:"updated"`
	Hash       string           `json:"hash"`
	Body       json.RawMessage  `json:"body,omitempty"`
	Status     string           `json:"status"` // held, withdrawn, purged
	Withdrawn  *time.Time       `json:"withdrawn_at,omitempty"`
	Why        string           `json:"withdrawn_because,omitempty"`
	Purged     *time.Time       `json:"purged_at,omitempty"`
	Terms      federation.Terms `json:"terms"`
	ExpiresAt  *time.Time       `json:"expires_at,omitempty"`
	Envelope   uint64           `json:"envelope"`
	ReceivedAt time.Time        `json:"received_at"`
	Package    receivedPackage  `json:"package"`
}

type receivedPackage struct {
	ID        string    `json:"id"`
	Root      string    `json:"root"`
	Signature string    `json:"signature"`
	SignedAt  time.Time `json:"signed_at"`
	// The item's place in the package (absent for items stored before
	// proofs were kept): with the above, enough to check the signature.
	Size  uint64   `json:"size,omitempty"`
	Index *uint64  `json:"index,omitempty"`
	Path  []string `json:"inclusion_proof,omitempty"`
}

func receivedJSON(it federation.ReceivedItem) receivedItem {
	r := receivedItem{Peer: it.Peer, Key: it.Item.Key, Kind: it.Item.Kind, TLP: it.Item.TLP, Origins: it.Item.Origins, Campaign: it.Item.Campaign,
		Updated: it.Item.Updated, Hash: it.Item.Hash, Status: it.Status(), Why: it.Why, Terms: it.Terms, Envelope: it.Seq, ReceivedAt: it.ReceivedAt,
		Package: receivedPackage{ID: it.Package, Root: it.Root, Signature: it.Signature, SignedAt: it.SignedAt}}
	if len(it.Item.Body) > 0 && json.Valid(it.Item.Body) {
		r.Body = it.Item.Body
	}
	if pr := it.Proof; pr != nil {
		r.Package.Size, r.Package.Index, r.Package.Path = pr.Size, &pr.Index, pr.Path
	}
	at := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	r.Withdrawn, r.Purged, r.ExpiresAt = at(it.Withdrawn), at(it.Purged), at(it.ExpiresAt)
	return r
}

// plural is "1 item", "2 items".
func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}
