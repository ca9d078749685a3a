package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/d--j/go-milter"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/classify"
	"github.com/accord-antispam/accord/internal/config"
	"github.com/accord-antispam/accord/internal/federation"
	"github.com/accord-antispam/accord/internal/filter"
	"github.com/accord-antispam/accord/internal/intel"
	"github.com/accord-antispam/accord/internal/milterd"
	"github.com/accord-antispam/accord/internal/nodekey"
	"github.com/accord-antispam/accord/internal/outbound"
	"github.com/accord-antispam/accord/internal/rspamdhttp"
	"github.com/accord-antispam/accord/internal/spamd"
	"github.com/accord-antispam/accord/internal/store/sqlstore"
)

// newFilter builds the node's filter service over its store.
func newFilter(ctx context.Context, c config.Config, st *sqlstore.Store, an *analysis.Analyzer, key *nodekey.Key, out filter.Outbound, onPanic func(door string), pseudonym func(string) string, log *slog.Logger) (*filter.Service, error) {
	fc := c.Filter
	id := authServID(c)
	if id == "localhost" {
		log.Warn("filter: the authserv-id of Authentication-Results is localhost; set [filter] authserv_id (or [smtp] hostname) to your mail host's name")
	}
	var bl *intel.DNSBL
	if len(fc.DNSBL) > 0 {
		bl = &intel.DNSBL{Resolver: an.Resolver, Budget: fc.DNSBLBudget.Duration}
		for _, l := range fc.DNSBL {
			bl.Lists = append(bl.Lists, intel.List{Name: l.Name, Zone: l.Zone, Domain: l.Domain, Weight: l.Weight, Codes: l.Codes})
		}
	}
	f, err := filter.New(ctx, filter.Config{AuthServID: id, MaxScan: fc.MaxScan, Timeout: fc.Timeout.Duration, TempFailOnTimeout: fc.TempFailOnTimeout,
		MaxScans: fc.MaxScans, ScanWait: fc.ScanWait.Duration, BodyBudget: fc.BodyBudgetMB << 20, QuarantineDays: fc.QuarantineDays, QuarantineMaxPerRecipient: fc.QuarantineMaxPerRecipient,
		QuarantineMaxRecipientBytes: fc.QuarantineMaxRecipientMB << 20, QuarantineMaxBytes: fc.QuarantineMaxMB << 20, RecipientDelimiter: fc.RecipientDelimiter, LearnedDays: fc.LearnedDays, CampaignMinReports: fc.CampaignMinReports, Version: "accord"},
		filter.Deps{Analyzer: an, Store: st, DNSBL: bl, Outbound: out, Secret: key.Derive("quarantine-release"),
			OwnMailKey: key.Derive(ownMailKey), Logger: log, OnPanic: onPanic, Pseudonym: pseudonym})
	if err != nil {
		return nil, err
	}
	// The model file trained with `accord learn` seeds the shared store
	// the first time.
	var seed *classify.Model
	if m, err := classify.Load(c.Data + "/model.acm"); err == nil {
		seed = m
	} else if !errors.Is(err, fs.ErrNotExist) {
		log.Warn("filter: the model file could not be read; starting from the shared store only", "err", err)
	}
	if err := f.StartModel(ctx, seed); err != nil {
		return nil, fmt.Errorf("filter: model: %w", err)
	}
	reloadIntel(ctx, f, st, fc.CampaignMinReports, log)
	return f, nil
}

// authServID is the name the filter writes in Authentication-Results:
// [filter] authserv_id, else [smtp] hostname, else — that left at its
// default, localhost — the machine's host name, which is what an MTA on
// the same machine calls itself (Postfix's myhostname).
func authServID(c config.Config) string {
	switch {
	case c.Filter.AuthServID != "":
		return c.Filter.AuthServID
	case c.SMTP.Hostname != "" && c.SMTP.Hostname != "localhost":
		return c.SMTP.Hostname
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return strings.ToLower(h)
	}
	return "localhost"
}

// reloadIntel loads the desk's confirmed campaigns and the indicators
// partners sent (within their retention) into the filter.
func reloadIntel(ctx context.Context, f *filter.Service, st *sqlstore.Store, minReports int, log *slog.Logger) {
	cs, err := st.ConfirmedCampaigns(ctx, minReports)
	if err != nil {
		log.Warn("filter: confirmed campaigns", "err", err)
	} else {
		f.SetCampaigns(cs)
	}
	inds, err := partnerIndicators(ctx, st, time.Now())
	if err != nil {
		log.Warn("filter: partner indicators", "err", err)
		return
	}
	set, bad := intel.NewSet(inds, time.Now())
	if bad > 0 {
		log.Warn("filter: malformed partner indicators skipped", "count", bad)
	}
	f.SetIntel(set)
}

// partnerIndicators turns the indicator items partners sent into the
// filter's indicators, each with its partner, agreement, TLP marking and
// the end of its retention. An e-mail address is not used: it would have
// to become its domain, and a free-mail domain is nobody's indicator.
func partnerIndicators(ctx context.Context, st federation.Store, now time.Time) ([]intel.Indicator, error) {
	items, err := st.Received(ctx, federation.ReceivedFilter{Kind: federation.KindIndicators, Limit: 1000000})
	if err != nil {
		return nil, err
	}
	return indicatorsFrom(items, now), nil
}

func indicatorsFrom(items []federation.ReceivedItem, now time.Time) []intel.Indicator {
	var out []intel.Indicator
	for _, it := range items {
		if !it.ExpiresAt.IsZero() && !now.Before(it.ExpiresAt) {
			continue
		}
		// What the partner withdrew (its agreement narrowed, or it found
		// the domain a victim's) is kept for a while as a record, never
		// used to judge mail.
		if !it.Withdrawn.IsZero() || !it.Purged.IsZero() {
			continue
		}
		var body struct {
			Type  string `json:"type"`
			Value string `json:"value"`
		}
		if json.Unmarshal(it.Item.Body, &body) != nil {
			continue
		}
		src := intel.Source{Kind: "partner", ID: it.Item.Key, Partner: it.Peer, TLP: string(it.Item.TLP)}
		src.Agreement = it.Terms.Agreement
		add := func(t intel.Type) {
			out = append(out, intel.Indicator{Type: t, Value: body.Value, Source: src, Expires: it.ExpiresAt})
		}
		switch body.Type {
		case "ipv4-addr", "ipv6-addr":
			add(intel.IP)
		case "domain-name":
			add(intel.SenderDom)
			add(intel.LinkDomain)
		case "url":
			add(intel.URL)
		}
	}
	return out
}

// filterDoors runs the doors configured, until stop.
type filterDoors struct {
	milter *milterd.Server
	rspamd interface{ Shutdown(context.Context) error }
	spamd  *spamd.Server
	addrs  []string
	errc   chan error
}

func startFilterDoors(c config.Config, f *filter.Service, log *slog.Logger) (*filterDoors, error) {
	d := &filterDoors{errc: make(chan error, 3)}
	fc := c.Filter
	var allowed []netip.Prefix
	for _, a := range fc.AllowedIPs {
		p, err := config.ParsePrefix(a)
		if err != nil {
			return nil, fmt.Errorf("filter.allowed_ips %q: %w", a, err)
		}
		allowed = append(allowed, p)
	}
	// The doors have no authentication of their own: whoever reaches one
	// can plant mail in any quarantine (and its digest), learn, or probe.
	for name, addr := range map[string]string{"milter": fc.Milter, "rspamd": fc.Rspamd, "spamd": fc.Spamd} {
		if addr != "" && !loopbackAddr(addr) {
			log.Warn("FILTER DOOR BEYOND LOOPBACK: anyone who reaches it can plant mail in any user's quarantine; keep it on a private network or firewalled to the MTA",
				"door", name, "addr", addr, "allowed_ips", strings.Join(fc.AllowedIPs, ","), "learn_password_set", fc.LearnPassword != "")
		}
	}
	if (fc.Milter != "" || fc.Rspamd != "" || fc.Spamd != "") && c.Analysis.Resolver == config.ResolverOffline {
		log.Warn("filter: the resolver is offline, so mail is filtered without DNS: no SPF, DKIM or DMARC results (Authentication-Results: none) "+
			"and no DNS blocklists; set [analysis] resolver = \"live\" in production", "resolver", "offline")
	}
	milter.LogWarning = func(format string, v ...any) { log.Warn("milter: " + fmt.Sprintf(format, v...)) }
	if fc.Milter != "" {
		m, err := milterd.ListenWith(fc.Milter, f, log, milterd.Limits{IdleTimeout: fc.MilterIdleTimeout.Duration, ConnectTimeout: fc.MilterConnectTimeout.Duration,
			MaxConns: fc.MaxConns, MaxConnsPerIP: fc.MaxConnsPerIP})
		if err != nil {
			return nil, err
		}
		d.milter = m
		d.addrs = append(d.addrs, "milter "+m.Addr().String())
	}
	if fc.Rspamd != "" {
		l, err := net.Listen("tcp", fc.Rspamd)
		if err != nil {
			d.stop(context.Background())
			return nil, fmt.Errorf("rspamd listen: %w", err)
		}
		h := rspamdhttp.NewHandler(f, fc.LearnPassword, log)
		h.Allowed = allowed
		srv := h.Server()
		go func() { d.errc <- srv.Serve(h.Limit(l, fc.MaxConns, fc.MaxConnsPerIP)) }()
		d.rspamd = srv
		d.addrs = append(d.addrs, "rspamd http://"+l.Addr().String())
	}
	if fc.Spamd != "" {
		l, err := net.Listen("tcp", fc.Spamd)
		if err != nil {
			d.stop(context.Background())
			return nil, fmt.Errorf("spamd listen: %w", err)
		}
		s := &spamd.Server{F: f, Log: log, AllowTell: fc.SpamdAllowTell, Allowed: allowed, MaxConns: fc.MaxConns, MaxConnsPerIP: fc.MaxConnsPerIP}
		go func() { d.errc <- s.Serve(l) }()
		d.spamd = s
		d.addrs = append(d.addrs, "spamd "+l.Addr().String())
	}
	return d, nil
}

// loopbackAddr reports whether a door's address is loopback only (or a
// unix socket).
func loopbackAddr(addr string) bool {
	if strings.HasPrefix(addr, "unix:") {
		return true
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

func (d *filterDoors) stop(ctx context.Context) {
	if d.milter != nil {
		d.milter.Shutdown(ctx)
	}
	if d.rspamd != nil {
		d.rspamd.Shutdown(ctx)
	}
	if d.spamd != nil {
		d.spamd.Shutdown(ctx)
	}
}

// cmdPolicy: accord policy set|show|list|delete.
func cmdPolicy(ctx context.Context, e *env, args []string) error {
	usage := func() error {
		fmt.Fprintln(e.stderr, `usage: accord policy set [--config FILE] [--data DIR] SCOPE [--enabled=true|false] [--unsure N] [--spam N] [--quarantine N] [--action tag|quarantine|reject]
                         [--trust-marketing=true|false] [--allow LIST] [--block LIST]
       accord policy show [--config FILE] [--data DIR] SCOPE      (the scope's own settings and what applies, with where each comes from)
       accord policy list [--config FILE] [--data DIR]
       accord policy delete [--config FILE] [--data DIR] SCOPE
SCOPE is "default", a domain ("example.org") or an address ("ana@example.org"). LIST is comma-separated
addresses and domains; --allow and --block replace the scope's list ("" empties it); each may be repeated,
and the lists given add up.`)
		return errUsage
	}
	if len(args) == 0 {
		return usage()
	}
	sub := args[0]
	switch sub {
	case "set", "show", "list", "delete":
	default:
		return usage() // --help, -h, help or a typo, before opening any node
	}
	fset, nf := nodeFlagSet(e, "policy "+sub)
	enabled := fset.String("enabled", "", "filtering on (true) or off (false)")
	unsure := fset.String("unsure", "", "score at or above which mail is tagged unsure")
	spamT := fset.String("spam", "", "score at or above which mail is spam")
	quar := fset.String("quarantine", "", "with --action tag: score at or above which spam is held anyway (0: never)")
	action := fset.String("action", "", "what happens to spam: tag, quarantine or reject")
	trust := fset.String("trust-marketing", "", "lower the score of authenticated marketing with a signed one-click opt-out")
	var allow, block listFlag
	fset.Var(&allow, "allow", "senders never treated as spam when authenticated: a comma-separated `LIST`, repeatable (replaces the list; \"\" empties it)")
	fset.Var(&block, "block", "senders always treated as spam: a comma-separated `LIST`, repeatable (replaces the list; \"\" empties it)")
	pos, err := parseInterleaved(fset, args[1:])
	if err != nil || len(pos) > 1 {
		return usage()
	}
	given := map[string]bool{} // --allow "" empties a list; no --allow leaves it
	fset.Visit(func(f *flag.Flag) { given[f.Name] = true })
	scope := ""
	if len(pos) == 1 {
		scope = pos[0]
	}
	kind, key := parseScope(scope)
	return withStore(ctx, nf, func(st *sqlstore.Store) error {
		// The node's recipient_delimiter: a policy on a sub-address is
		// refused, as checks look recipients up without it.
		c, _ := nf.load()
		f, err := filter.New(ctx, filter.Config{RecipientDelimiter: c.Filter.RecipientDelimiter}, filter.Deps{Analyzer: &analysis.Analyzer{}, Store: st})
		if err != nil {
			return err
		}
		switch sub {
		case "list":
			ps, err := f.Policies(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SCOPE\tSETTINGS\tUPDATED")
			for _, p := range ps {
				fmt.Fprintf(tw, "%s\t%s\t%s by %s\n", p.Scope(), describePolicy(p), p.UpdatedAt.Format(time.RFC3339), p.UpdatedBy)
			}
			return tw.Flush()
		case "show":
			if scope == "" {
				return usage()
			}
			p, err := f.Policy(ctx, kind, key)
			switch {
			case errors.Is(err, filter.ErrNotFound):
				fmt.Fprintf(e.stdout, "%s: no settings of its own\n", (&filter.Policy{Kind: kind, Key: key}).Scope())
			case err != nil:
				return &exitError{code: 2, err: err}
			default:
				fmt.Fprintf(e.stdout, "%s: %s\n", p.Scope(), describePolicy(p))
			}
			rc := ""
			if kind == filter.ScopeRecipient {
				rc = key
			} else if kind == filter.ScopeDomain {
				rc = "postmaster@" + key
			}
			ef := f.Effective(rc)
			fmt.Fprintln(e.stdout, "applies:")
			fmt.Fprintf(e.stdout, "  enabled %v (%s)\n  unsure %.2f (%s)\n  spam %.2f (%s)\n  action %s (%s)\n  quarantine %.2f (%s)\n  trust-marketing %v (%s)\n",
				ef.Enabled, ef.From["enabled"], ef.Unsure, ef.From["unsure"], ef.Spam, ef.From["spam"], ef.Action, ef.From["action"],
				ef.Quarantine, ef.From["quarantine"], ef.TrustMarketing, ef.From["trust_marketing"])
			for _, l := range ef.Lists {
				fmt.Fprintf(e.stdout, "  lists of %s: allow %s; block %s\n", l.Scope, orDash(strings.Join(l.Allow, ",")), orDash(strings.Join(l.Block, ",")))
			}
			return nil
		case "delete":
			if scope == "" {
				return usage()
			}
			if err := f.DeletePolicy(ctx, kind, key, "cli"); err != nil {
				return &exitError{code: 1, err: err}
			}
			fmt.Fprintf(e.stdout, "policy of %s deleted\n", scope)
			return nil
		case "set":
			if scope == "" {
				return usage()
			}
			p, err := f.Policy(ctx, kind, key)
			if errors.Is(err, filter.ErrNotFound) {
				p = filter.Policy{Kind: kind, Key: key}
			} else if err != nil {
				return &exitError{code: 2, err: err}
			}
			for _, x := range []struct {
				flag string
				dst  **float64
			}{{*unsure, &p.Unsure}, {*spamT, &p.Spam}, {*quar, &p.Quarantine}} {
				if x.flag == "" {
					continue
				}
				v, err := strconv.ParseFloat(x.flag, 64)
				if err != nil {
					return &exitError{code: 2, err: fmt.Errorf("threshold %q: not a number", x.flag)}
				}
				*x.dst = &v
			}
			for _, x := range []struct {
				flag string
				dst  **bool
			}{{*enabled, &p.Enabled}, {*trust, &p.TrustMarketing}} {
				if x.flag == "" {
					continue
				}
				v, err := strconv.ParseBool(x.flag)
				if err != nil {
					return &exitError{code: 2, err: fmt.Errorf("%q: want true or false", x.flag)}
				}
				*x.dst = &v
			}
			if *action != "" {
				p.Action = action
			}
			if given["allow"] {
				p.Allow = allow
			}
			if given["block"] {
				p.Block = block
			}
			p, err = f.PutPolicy(ctx, p, "cli")
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			fmt.Fprintf(e.stdout, "%s: %s\n", p.Scope(), describePolicy(p))
			return nil
		}
		return usage()
	})
}

// listFlag is a list flag that may be repeated: each use adds its
// comma-separated entries, so "--block a --block b" keeps both (a plain
// string flag kept only the last, silently).
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(s string) error {
	*l = append(*l, splitList(s)...)
	return nil
}

func parseScope(s string) (kind, key string) {
	switch {
	case s == "" || s == "default":
		return filter.ScopeDefault, ""
	case strings.Contains(s, "@"):
		return filter.ScopeRecipient, s
	}
	return filter.ScopeDomain, s
}

func describePolicy(p filter.Policy) string {
	var parts []string
	if p.Enabled != nil {
		parts = append(parts, fmt.Sprintf("enabled=%v", *p.Enabled))
	}
	for _, x := range []struct {
		n string
		v *float64
	}{{"unsure", p.Unsure}, {"spam", p.Spam}, {"quarantine", p.Quarantine}} {
		if x.v != nil {
			parts = append(parts, fmt.Sprintf("%s=%g", x.n, *x.v))
		}
	}
	if p.Action != nil {
		parts = append(parts, "action="+*p.Action)
	}
	if p.TrustMarketing != nil {
		parts = append(parts, fmt.Sprintf("trust-marketing=%v", *p.TrustMarketing))
	}
	if len(p.Allow) > 0 {
		parts = append(parts, "allow="+strings.Join(p.Allow, ","))
	}
	if len(p.Block) > 0 {
		parts = append(parts, "block="+strings.Join(p.Block, ","))
	}
	if len(parts) == 0 {
		return "(nothing set)"
	}
	return strings.Join(parts, " ")
}

// cmdQuarantine: accord quarantine list|show|release|delete, as an
// administrator (every read of someone's message is audited).
func cmdQuarantine(ctx context.Context, e *env, args []string) error {
	usage := func() error {
		fmt.Fprintln(e.stderr, `usage: accord quarantine list [--config FILE] [--data DIR] [--recipient ADDR] [--state held|queued|released|deleted] [--limit N]
                                 (newest first; --limit: at most N, default 10000)
       accord quarantine show [--config FILE] [--data DIR] [--raw] ID      (the read is written to the audit log; --raw: none
                                                                            once deleted or released)
       accord quarantine release [--config FILE] [--data DIR] ID           (queued in the node's outbound mail, marked as released so the filter
                                                                            passes it; state queued, then released once the relay took it;
                                                                            the filter learns it as ham)
       accord quarantine delete [--config FILE] [--data DIR] ID`)
		return errUsage
	}
	if len(args) == 0 {
		return usage()
	}
	sub := args[0]
	switch sub {
	case "list", "show", "release", "delete":
	default:
		// --help, -h, help or a typo: the usage, before opening any node.
		return usage()
	}
	fset, nf := nodeFlagSet(e, "quarantine "+sub)
	rcpt := fset.String("recipient", "", "only this recipient's messages")
	state := fset.String("state", "", "only messages in this state")
	rawOut := fset.Bool("raw", false, "print the message itself")
	limit := fset.Int("limit", 10000, "list: at most this many messages, newest first (at most 100000)")
	pos, err := parseInterleaved(fset, args[1:])
	if err != nil {
		return errUsage
	}
	c, err := nf.loadNode()
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	admin := filter.Actor{Label: "cli", Admin: true}
	return withStore(ctx, nf, func(st *sqlstore.Store) error {
		key, err := nodekey.LoadOrCreate(c.Data)
		if err != nil {
			return err
		}
		// A release is queued in the node's outbound mail; the running
		// node delivers it through its relay.
		mq, err := openOutbound(c, st, key, e.log)
		if err != nil {
			return err
		}
		f, err := filter.New(ctx, filter.Config{}, filter.Deps{Analyzer: &analysis.Analyzer{}, Store: st, Outbound: filterMail{mq}, Secret: key.Derive("quarantine-release")})
		if err != nil {
			return err
		}
		switch sub {
		case "list":
			if *limit < 1 || *limit > filter.MaxHeldLimit {
				return &exitError{code: 2, err: fmt.Errorf("--limit %d: want 1 to %d", *limit, filter.MaxHeldLimit)}
			}
			hs, err := f.List(ctx, admin, filter.HeldFilter{Recipient: strings.ToLower(*rcpt), State: *state, Limit: *limit})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tRECEIVED\tEXPIRES\tSTATE\tRECIPIENT\tSCORE\tREFERENCE")
			for _, h := range hs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.2f\t%s\n", h.ID, h.ReceivedAt.Format(time.RFC3339), h.ExpiresAt.Format("2006-01-02"), h.State, h.Recipient, h.Score, h.Reference)
			}
			return tw.Flush()
		case "show", "release", "delete":
			if len(pos) != 1 {
				return usage()
			}
			id := pos[0]
			switch sub {
			case "show":
				h, err := f.Show(ctx, admin, id)
				if err != nil {
					return &exitError{code: 1, err: err}
				}
				if *rawOut {
					if h.State == filter.StateReleased || h.State == filter.StateDeleted {
						return &exitError{code: 1, err: fmt.Errorf("%s is %s: %w", id, h.State, filter.ErrNoBytes)}
					}
					_, err := e.stdout.Write(h.Raw)
					return err
				}
				showHeld(e.stdout, h)
				return nil
			case "release":
				state, err := f.Release(ctx, admin, id)
				if err != nil {
					return &exitError{code: 1, err: err}
				}
				if state != filter.StateQueued {
					fmt.Fprintf(e.stdout, "%s released\n", id)
					return nil
				}
				// Only the running node's outbound worker delivers it: say
				// so, rather than "released".
				fmt.Fprintf(e.stdout, "%s queued for delivery (the running node's outbound relay delivers it; then its state is released)\n", id)
				if !mq.Relay() {
					fmt.Fprintln(e.stderr, "warning: no outbound relay is configured ([outbound] relay): the message waits in the queue until one is (accord outbound list)")
				}
				return nil
			default:
				if err := f.Delete(ctx, admin, id); err != nil {
					return &exitError{code: 1, err: err}
				}
				fmt.Fprintf(e.stdout, "%s deleted\n", id)
				return nil
			}
		}
		return usage()
	})
}

func showHeld(w io.Writer, h filter.Held) {
	fmt.Fprintf(w, "id: %s\nrecipient: %s\nenvelope sender: %s\nfrom: %s\nsubject: %s\nreceived: %s\nexpires: %s\nstate: %s\nscore: %.2f\nreference: %s\nsize: %d\n",
		h.ID, h.Recipient, h.MailFrom, h.From, h.Subject, h.ReceivedAt.Format(time.RFC3339), h.ExpiresAt.Format(time.RFC3339), h.State, h.Score, h.Reference, h.Size)
	fmt.Fprintf(w, "client: %s\n", describeSession(h.Session))
	fmt.Fprintln(w, "why:")
	for _, s := range h.Symbols {
		fmt.Fprintf(w, "  %-24s %8.2f  %s\n", s.Name, s.Score, s.Description)
	}
}

// describeSession is a held message's SMTP client as the door was told:
// address, the MTA's reverse name (or that it found none), HELO.
func describeSession(s filter.Session) string {
	if s.IP == "" {
		return "not known (the door was not told the client's address)"
	}
	name := "reverse name not told"
	switch {
	case s.Name != "":
		name = "reverse name " + s.Name
	case s.NoRDNS:
		name = "no reverse name, the MTA said"
	}
	return fmt.Sprintf("%s (%s; HELO %s)", s.IP, name, orDash(s.Helo))
}

// filterMail is the filter's way out through the node's outbound queue:
// released messages re-delivered to their recipient, and digests.
type filterMail struct{ q *outbound.Queue }

// kindRelease is the outbound kind of a released message (relayed
// unsigned, see outbound.KindRelease); its Ref is releaseRef + the held
// message's id.
const (
	kindRelease = outbound.KindRelease
	releaseRef  = "quarantine:"
)

// Deliver implements filter.Outbound: the message as it was received
// (with its release mark), queued for each recipient; the held message
// stays "queued" until the worker reports (releaseDone).
func (m filterMail) Deliver(ctx context.Context, id, _ string, to []string, raw []byte) (bool, error) {
	for _, t := range to {
		if _, err := m.q.Send(ctx, outbound.Mail{Kind: kindRelease, Ref: releaseRef + id, To: t, Raw: raw, Resend: true}); err != nil {
			return false, err
		}
	}
	return true, nil
}

// releaseDone tells the filter what the outbound worker did with a
// release: sent (the held message becomes "released") or given up on (held
// again).
func releaseDone(f *filter.Service, log *slog.Logger) func(context.Context, outbound.Item) {
	return func(ctx context.Context, it outbound.Item) {
		if it.Kind != kindRelease || !strings.HasPrefix(it.Ref, releaseRef) {
			return
		}
		id := strings.TrimPrefix(it.Ref, releaseRef)
		if err := f.ReleaseDone(ctx, id, it.State == outbound.Sent, it.LastError); err != nil {
			log.Warn("filter: recording a release's delivery", "id", id, "err", err)
		}
	}
}

// Notify implements filter.Notifier.
func (m filterMail) Notify(ctx context.Context, to, subject, text string) error {
	_, err := m.q.Send(ctx, outbound.Mail{Kind: "quarantine-digest", Ref: "quarantine-digest", To: to, Subject: subject, Text: text})
	return err
}

// digestLoop mails each recipient the held messages no digest has listed
// yet, every interval, until ctx ends. What was listed is marked in the
// store, not kept here: a restart loses nothing, and instances sharing
// the store list each message once.
func digestLoop(ctx context.Context, f *filter.Service, every time.Duration, base string, n filter.Notifier, log *slog.Logger) {
	if every <= 0 {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// A recipient whose digest failed has its messages given
			// back to the next digest by the filter.
			sent, err := f.SendDigests(ctx, base, n)
			if err != nil {
				log.Warn("filter: digests", "err", err)
			}
			if sent > 0 {
				log.Info("filter: quarantine digests queued", "recipients", sent)
			}
		}
	}
}
