package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/accord-antispam/accord/internal/dnsname"
	"github.com/accord-antispam/accord/internal/federation"
)

const withholdHelp = `  add DOMAIN --reason TEXT   mark DOMAIN (and every name under it) as not the spammer's: a firm
                             a phish wears, a bystander it names. Nothing shared accuses it (its
                             domain and link indicators, a report's sender domain); what was sent
                             is withdrawn from partners at the next round
  list                       the domains marked, when, by whom and why (the reason stays here)
  remove DOMAIN              take the marking back: the items are decided again at the next round
`

// cmdWithhold is "accord withhold": the analyst's marking of domains the
// link and sender rules cannot tell from the spammer's (federation.Withheld).
func cmdWithhold(ctx context.Context, e *env, args []string) error {
	var reason string
	one := func(pos []string) (string, error) {
		if len(pos) != 1 {
			return "", errUsage
		}
		return pos[0], nil
	}
	return subcommands(ctx, e, "withhold", args, map[string]func(context.Context, *env, []string) error{
		"add": nodeCmd("withhold add", func(fs *flag.FlagSet) {
			fs.StringVar(&reason, "reason", "", "why the domain is not the spammer's (required; kept at this node, never sent)")
		}, func(ctx context.Context, e *env, n *fedNode, pos []string) error {
			dom, err := one(pos)
			if err != nil {
				return err
			}
			if strings.TrimSpace(reason) == "" {
				return &exitError{code: 2, err: errors.New("--reason is required: say why the domain is not the spammer's")}
			}
			w, err := n.svc.Withhold(ctx, dom, reason, cliActor())
			switch {
			case errors.Is(err, federation.ErrBadDomain):
				return &exitError{code: 2, err: err}
			case errors.Is(err, federation.ErrExists):
				return &exitError{code: 1, err: fmt.Errorf("%w (accord withhold list shows why; remove it first to change the reason)", err)}
			case err != nil:
				return err
			}
			auditCLI(ctx, n.store, "withheld:"+w.Domain, "marked as not the spammer's: "+w.Reason)
			held, err := withheldNow(ctx, n)
			if err != nil {
				return err
			}
			if given, _ := dnsname.Normalize(strings.TrimSpace(dom)); given != w.Domain {
				fmt.Fprintf(e.stdout, "%s is marked as %s, its organisation: indicators name registrable domains, and every name under it is the firm's\n", dom, w.Domain)
			}
			fmt.Fprintf(e.stdout, "%s is withheld: %s at it kept back from every partner and TAXII collection; what was sent is withdrawn at the next round (accord peer sync PEER, or serve's own)\n", w.Domain, plural(held[w.Domain], "indicator"))
			return nil
		}),
		"list": nodeCmd("withhold list", nil, func(ctx context.Context, e *env, n *fedNode, pos []string) error {
			if len(pos) != 0 {
				return errUsage
			}
			ws, err := n.store.Withheld(ctx)
			if err != nil {
				return err
			}
			if len(ws) == 0 {
				fmt.Fprintln(e.stdout, "no domain is withheld")
				return nil
			}
			held, err := withheldNow(ctx, n)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "DOMAIN\tINDICATORS\tMARKED\tBY\tREASON")
			for _, w := range ws {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", w.Domain, held[w.Domain], when(w.At), w.By, w.Reason)
			}
			return tw.Flush()
		}),
		"remove": nodeCmd("withhold remove", nil, func(ctx context.Context, e *env, n *fedNode, pos []string) error {
			dom, err := one(pos)
			if err != nil {
				return err
			}
			err = n.svc.Unwithhold(ctx, dom, cliActor())
			switch {
			case errors.Is(err, federation.ErrBadDomain):
				return &exitError{code: 2, err: err}
			case errors.Is(err, federation.ErrNotFound):
				return &exitError{code: 1, err: err}
			case err != nil:
				return err
			}
			d, _ := federation.WithheldDomain(dom)
			auditCLI(ctx, n.store, "withheld:"+d, "marking removed")
			fmt.Fprintf(e.stdout, "%s is no longer withheld: what names it is decided again at the next round under each agreement\n", d)
			return nil
		}),
	}, withholdHelp)
}

// withheldNow counts, per marked domain, the indicators the shared set
// holds back for it now.
func withheldNow(ctx context.Context, n *fedNode) (map[string]int, error) {
	sh, err := n.svc.Collect(ctx)
	if err != nil {
		return nil, err
	}
	return sh.WithheldCounts(), nil
}
