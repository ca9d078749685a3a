// Command campaigns groups the spam of a corpus into campaigns the way the
// complaint desk does (internal/campaign: the connected components of
// sharing a grouping key), and prints how many campaigns
// form and the largest ones with sample subjects, for spot checks:
//
//	campaigns DIR/spam
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/campaign"
	"github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/trace/geo"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: campaigns DIR")
		os.Exit(2)
	}
	files, _ := filepath.Glob(filepath.Join(os.Args[1], "*"))
	sort.Strings(files)
	an := &analysis.Analyzer{Geo: geo.Embedded()}
	part := campaign.NewPartition()
	campOf := map[string]string{}
	var order []string
	ctx := context.Background()
	subjects := map[string]string{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		v, err := an.Analyze(ctx, analysis.Input{Source: f, Message: mail.ParseBytes(raw, mail.Limits{})})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		pl := part.Place(analysis.CampaignSignature(v).Keys())
		if pl.Campaign == "" {
			pl.Campaign = f
			part.Found(f, int64(len(order)), pl.NewKeys)
		}
		campOf[f] = pl.Campaign
		order = append(order, f)
		subjects[f] = v.Message.Subject
	}
	type camp struct {
		id      string
		members []string
	}
	var cs []camp
	singles := 0
	members := map[string][]string{}
	for _, f := range order {
		c := part.Find(campOf[f])
		members[c] = append(members[c], f)
	}
	for id, m := range members {
		cs = append(cs, camp{id, m})
		if len(m) == 1 {
			singles++
		}
	}
	sort.Slice(cs, func(i, j int) bool {
		if len(cs[i].members) != len(cs[j].members) {
			return len(cs[i].members) > len(cs[j].members)
		}
		return cs[i].id < cs[j].id
	})
	fmt.Printf("%d messages form %d campaigns (%d with one message, %d with two or more)\n", len(files), len(cs), singles, len(cs)-singles)
	for _, c := range cs[:min(15, len(cs))] {
		var subs []string
		seen := map[string]bool{}
		for _, m := range c.members {
			s := subjects[m]
			if len(s) > 50 {
				s = s[:50]
			}
			if !seen[s] && len(subs) < 3 {
				seen[s] = true
				subs = append(subs, fmt.Sprintf("%q", s))
			}
		}
		fmt.Printf("  %3d  %s  e.g. %s\n", len(c.members), filepath.Base(c.members[0]), strings.Join(subs, ", "))
	}
}
