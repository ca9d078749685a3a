package storetest

import (
	"context"
	"fmt"
	"strconv"
	"testing"

	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/stats"
)

// recordKey is what the store must compute for a report: the first byte
// of its status hash.
func recordKey(id string) int64 {
	n, _ := strconv.ParseUint(statusHash(id)[:2], 16, 8)
	return int64(n)
}

func statsBreakdown(t *testing.T, s Store) {
	ctx := context.Background()
	commitMade(t, s, browseFixture())
	show := func(cs []stats.Cell) string {
		var out []string
		for _, c := range cs {
			v := c.Value + "=" + strconv.Itoa(c.N)
			if c.Label != "" {
				v += "(" + c.Label + ")"
			}
			out = append(out, v)
		}
		return fmt.Sprint(out)
	}
	for _, c := range []struct {
		d    stats.Dimension
		f    intake.Browse
		want string
	}{
		{stats.Day, intake.Browse{}, "[2026-11-01=2 2026-11-02=1 2026-11-03=2 2026-11-04=1]"},
		{stats.Country, intake.Browse{}, "[FR=2 US=2 DE=1]"},
		{stats.Network, intake.Browse{}, "[AS15169=2(NET-15169) AS64500=2(NET-64500) AS64501=1(NET-64501)]"},
		{stats.SenderDomain, intake.Browse{}, "[offers.example.biz=3 pills.example=2]"},
		{stats.LinkDomain, intake.Browse{}, "[loans.example=3 pills.example=1]"},
		{stats.Form, intake.Browse{Channel: intake.ChannelSMTP}, "[inline-forward=2 attached=1]"},
		{stats.Channel, intake.Browse{}, "[smtp=3 web=2 api=1]"},
		{stats.Finding, intake.Browse{}, "[no-opt-out=2 identity-disguised=1]"},
		{stats.Campaign, intake.Browse{}, "[ca=3(Refinance NOW 50% off) cb=2(Cheap pills) cc=1(Hello)]"},
		{stats.Country, intake.Browse{LinkDomain: "loans.example"}, "[FR=2 DE=1]"},
	} {
		got, err := s.Breakdown(ctx, c.f, c.d, 20)
		if err != nil {
			t.Fatalf("%s: %v", c.d, err)
		}
		if show(got) != c.want {
			t.Errorf("by %s %+v: got %s, want %s", c.d, c.f, show(got), c.want)
		}
	}
	// The cell key is the sum of the reports' record keys.
	got, _ := s.Breakdown(ctx, intake.Browse{}, stats.Country, 20)
	want := map[string]int64{"FR": recordKey("r01") + recordKey("r02"), "US": recordKey("r04") + recordKey("r05"), "DE": recordKey("r03")}
	for _, c := range got {
		if c.Key != want[c.Value] {
			t.Errorf("cell key of %s: %d, want %d", c.Value, c.Key, want[c.Value])
		}
	}
	tot, err := s.Total(ctx, intake.Browse{Country: "US"})
	if err != nil || tot.N != 2 || tot.Key != recordKey("r04")+recordKey("r05") {
		t.Errorf("total %+v %v", tot, err)
	}
	if top, _ := s.Breakdown(ctx, intake.Browse{}, stats.Country, 1); len(top) != 1 {
		t.Errorf("limit not applied: %v", top)
	}
}
