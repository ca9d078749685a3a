package sqlite

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/campaign"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/stats"
	"github.com/accord-antispam/accord/internal/store/sqlstore"
	"github.com/accord-antispam/accord/internal/trace/geo"
)

// benchStore holds n reports over 60 days in 200 campaigns, from 20
// countries, 50 networks and 300 sender domains.
func benchStore(b *testing.B, n int) *sqlstore.Store {
	b.Helper()
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "accord.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	countries := []string{"FR", "DE", "US", "NL", "RU", "CN", "BR", "IN", "GB", "IT", "ES", "PL", "UA", "VN", "ID", "TR", "KR", "JP", "CA", "AU"}
	start := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	founded := map[string]bool{}
	var batches []*intake.Batch
	flush := func() {
		if err := s.Commit(ctx, batches, func(ctx context.Context, idx campaign.Index, r *intake.Report) error {
			r.CampaignNew = !founded[r.CampaignID]
			founded[r.CampaignID] = true
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		batches = nil
	}
	for i := 0; i < n; i++ {
		at := start.Add(time.Duration(i) * 60 * 24 * time.Hour / time.Duration(n))
		id := fmt.Sprintf("r%06d", i)
		v := &analysis.Verdict{}
		v.Message.Subject = fmt.Sprintf("Offer %d for you", i%997)
		v.Origin.Country = countries[i%len(countries)]
		v.Origin.Network = &geo.Network{ASN: uint32(64500 + i%50), Name: "NET"}
		v.Sender.Domains.From = fmt.Sprintf("sender%d.example", i%300)
		v.Content.Domains = []string{fmt.Sprintf("link%d.example", i%400)}
		v.Reasons = []analysis.Reason{{Code: analysis.ReasonCode([]string{"identity-disguised", "no-opt-out", "commercial"}[i%3])}}
		h := sha256.Sum256([]byte(id))
		c := &intake.Complaint{ID: "c" + id, ReceivedAt: at, Channel: intake.ChannelAPI, Raw: []byte("x"), SHA256: "00"}
		r := &intake.Report{ID: id, ComplaintID: c.ID, ReceivedAt: at, Channel: []intake.Channel{intake.ChannelAPI, intake.ChannelSMTP, intake.ChannelWeb}[i%3],
			Form: intake.FormRaw, Raw: []byte("x"), Verdict: v, Signature: campaign.Sign(v.Message.Subject, nil, "", ""),
			StatusHash: hex.EncodeToString(h[:]), CampaignID: fmt.Sprintf("c-%03d", i%200)}
		batches = append(batches, &intake.Batch{Complaint: c, Reports: []*intake.Report{r}})
		if len(batches) == 64 {
			flush()
		}
	}
	if len(batches) > 0 {
		flush()
	}
	return s
}

// BenchmarkBrowse: one desk list page (50 rows) of 20,000 reports, with
// filters and deep in the list (keyset cursor).
func BenchmarkBrowse(b *testing.B) {
	s := benchStore(b, 20000)
	ctx := context.Background()
	first, _ := s.Reports(ctx, intake.ReportFilter{Limit: 50})
	deep := intake.ReportFilter{Limit: 50}
	for i := 0; i < 100; i++ {
		page, _ := s.Reports(ctx, deep)
		deep.After = intake.NextReports(page)
	}
	for _, c := range []struct {
		name string
		f    intake.ReportFilter
	}{
		{"first-page", intake.ReportFilter{Limit: 50}},
		{"page-100", deep},
		{"country-and-link", intake.ReportFilter{Limit: 50, Browse: intake.Browse{Country: "FR", LinkDomain: "link20.example"}}},
		{"subject-search", intake.ReportFilter{Limit: 50, Browse: intake.Browse{Subject: "offer 42 "}}},
		{"after-first", intake.ReportFilter{Limit: 50, After: intake.NextReports(first)}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.Reports(ctx, c.f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("campaigns-page", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Campaigns(ctx, intake.CampaignFilter{Limit: 50}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkStatistics: the whole dashboard (every dimension and the
// total) over 20,000 reports, exact and published.
func BenchmarkStatistics(b *testing.B) {
	s := benchStore(b, 20000)
	ctx := context.Background()
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for _, publish := range []bool{false, true} {
		b.Run(fmt.Sprintf("publish=%v", publish), func(b *testing.B) {
			for b.Loop() {
				if _, err := stats.Build(ctx, s, stats.Options{Publish: publish, Durations: true, Now: now,
					Filter: intake.Browse{From: now.AddDate(0, 0, -60)}}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
