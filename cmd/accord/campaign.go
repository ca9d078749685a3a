package main

import (
	"context"
	"fmt"

	"github.com/accord-antispam/accord/internal/cases"
	"github.com/accord-antispam/accord/internal/store/sqlstore"
)

// cmdCampaign is "accord campaign merge FROM INTO": the merge intake no
// longer makes when a person has worked on one of the campaigns (their
// case has an event; a report linking them is a proposed link, listed
// with the case), made on purpose by whoever runs it.
func cmdCampaign(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] != "merge" {
		fmt.Fprintln(e.stderr, "usage: accord campaign merge [--data DIR] --reason TEXT FROM INTO")
		return errUsage
	}
	fset, nf := nodeFlagSet(e, "campaign merge")
	reason := fset.String("reason", "", "why the two campaigns are one (required: it goes in the case's history)")
	fset.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: accord campaign merge [--data DIR] --reason TEXT FROM INTO")
		fmt.Fprintln(e.stderr, "Merges campaign FROM into INTO: reports, keys and case; FROM then redirects to INTO.")
		fset.PrintDefaults()
	}
	if err := fset.Parse(args[1:]); err != nil || fset.NArg() != 2 || *reason == "" {
		fset.Usage()
		return errUsage
	}
	from, into := fset.Arg(0), fset.Arg(1)
	return withStore(ctx, nf, func(st *sqlstore.Store) error {
		svc := &cases.Service{Store: st, Campaigns: st}
		c, err := svc.Merge(ctx, from, into, *reason, cliActor())
		if err != nil {
			return err
		}
		auditCLI(ctx, st, "campaign:"+from, "merged into "+into+": "+*reason)
		fmt.Fprintf(e.stdout, "campaign %s merged into %s (case %s, version %d)\n", from, into, c.Status, c.Version)
		return nil
	})
}
