package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/accord-antispam/accord/internal/campaign"
	"github.com/accord-antispam/accord/internal/intake"
)

// commitIndex is the campaign index seen from inside one commit, built so
// that a commit costs a fixed number of round trips whatever its size: the
// candidates of every report of the group are read with two queries at
// the start (one per kind of key, each report's part with its own limit,
// as a lookup per report would have), and the campaigns founded within the
// commit are kept in memory and written at the end.
type commitIndex struct {
	bands, domains [][]campaign.Candidate // Prefetched, per report of the commit.
	cur            int                    // The report being assigned.
	founded        []campaign.Candidate   // Campaigns founded in this commit, in order.
	foundedBands   map[uint64][]int       // Band key -> indexes in founded.
	foundedDomains map[string][]int
}

// candidateLimit bounds the candidates of one report by one kind of key.
const candidateLimit = 50

func (s *Store) newCommitIndex(ctx context.Context, tx *sql.Tx, reports []*intake.Report) (*commitIndex, error) {
	x := &commitIndex{bands: make([][]campaign.Candidate, len(reports)), domains: make([][]campaign.Candidate, len(reports)),
		foundedBands: map[uint64][]int{}, foundedDomains: map[string][]int{}}
	var bandParts, domainParts []string
	var bandArgs, domainArgs []any
	for i, r := range reports {
		var keys []any
		for _, k := range r.Signature.BandKeys() {
			if k != 0 {
				keys = append(keys, int64(k))
			}
		}
		if len(keys) > 0 {
			bandParts = append(bandParts, `SELECT * FROM (SELECT DISTINCT `+strconv.Itoa(i)+` AS r, c.id, c.signature FROM campaign_bands b JOIN campaigns c ON c.id = b.campaign_id WHERE b.band IN (`+
				placeholders(len(keys))+`) LIMIT `+strconv.Itoa(candidateLimit)+`) AS b`+strconv.Itoa(i))
			bandArgs = append(bandArgs, keys...)
		}
		if len(r.Signature.Domains) > 0 {
			domainParts = append(domainParts, `SELECT * FROM (SELECT DISTINCT `+strconv.Itoa(i)+` AS r, c.id, c.signature FROM campaign_domains d JOIN campaigns c ON c.id = d.campaign_id WHERE d.domain IN (`+
				placeholders(len(r.Signature.Domains))+`) LIMIT `+strconv.Itoa(candidateLimit)+`) AS d`+strconv.Itoa(i))
			for _, d := range r.Signature.Domains {
				domainArgs = append(domainArgs, d)
			}
		}
	}
	if err := s.prefetch(ctx, tx, bandParts, bandArgs, x.bands); err != nil {
		return nil, fmt.Errorf("campaign candidates by text: %w", err)
	}
	if err := s.prefetch(ctx, tx, domainParts, domainArgs, x.domains); err != nil {
		return nil, fmt.Errorf("campaign candidates by link domain: %w", err)
	}
	return x, nil
}

// prefetch runs the per-report parts as UNION ALL queries (in pieces under
// the parameter limit) and files the rows by report.
func (s *Store) prefetch(ctx context.Context, tx *sql.Tx, parts []string, args []any, into [][]campaign.Candidate) error {
	sigs := map[string]campaign.Signature{}
	for start, arg := 0, 0; start < len(parts); {
		end, n := start, 0
		for end < len(parts) && (end == start || n+strings.Count(parts[end], "?") <= maxParams) {
			n += strings.Count(parts[end], "?")
			end++
		}
		rows, err := tx.QueryContext(ctx, s.q(strings.Join(parts[start:end], " UNION ALL ")), args[arg:arg+n]...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var r int
			var id, sig string
			if err := rows.Scan(&r, &id, &sig); err != nil {
				rows.Close()
				return err
			}
			c := campaign.Candidate{ID: id}
			if known, ok := sigs[id]; ok {
				c.Signature = known
			} else {
				if err := json.Unmarshal([]byte(sig), &c.Signature); err != nil {
					rows.Close()
					return fmt.Errorf("campaign %s: bad signature: %w", id, err)
				}
				sigs[id] = c.Signature
			}
			into[r] = append(into[r], c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		start, arg = end, arg+n
	}
	return nil
}

// ByBands implements campaign.Index for the report being assigned.
func (x *commitIndex) ByBands(_ context.Context, keys [campaign.Bands]uint64) ([]campaign.Candidate, error) {
	out := append([]campaign.Candidate(nil), x.bands[x.cur]...)
	seen := map[int]bool{}
	for _, k := range keys {
		for _, i := range x.foundedBands[k] {
			if k != 0 && !seen[i] {
				seen[i] = true
				out = append(out, x.founded[i])
			}
		}
	}
	return out, nil
}

// ByDomains implements campaign.Index for the report being assigned.
func (x *commitIndex) ByDomains(_ context.Context, domains []string) ([]campaign.Candidate, error) {
	out := append([]campaign.Candidate(nil), x.domains[x.cur]...)
	seen := map[int]bool{}
	for _, d := range domains {
		for _, i := range x.foundedDomains[d] {
			if !seen[i] {
				seen[i] = true
				out = append(out, x.founded[i])
			}
		}
	}
	return out, nil
}

// found records a campaign founded by r in this commit, and returns its
// rows for the campaigns, campaign_bands and campaign_domains tables.
func (x *commitIndex) found(r *intake.Report) (campaignRow []any, bands, domains [][]any) {
	i := len(x.founded)
	x.founded = append(x.founded, campaign.Candidate{ID: r.CampaignID, Signature: r.Signature})
	sig, _ := json.Marshal(r.Signature)
	campaignRow = []any{r.CampaignID, nanos(r.ReceivedAt), r.ID, r.Subject(), string(sig)}
	seen := map[uint64]bool{}
	for _, k := range r.Signature.BandKeys() {
		if k == 0 || seen[k] {
			continue
		}
		seen[k] = true
		x.foundedBands[k] = append(x.foundedBands[k], i)
		bands = append(bands, []any{int64(k), r.CampaignID})
	}
	seenD := map[string]bool{}
	for _, d := range r.Signature.Domains {
		if !seenD[d] {
			seenD[d] = true
			x.foundedDomains[d] = append(x.foundedDomains[d], i)
			domains = append(domains, []any{d, r.CampaignID})
		}
	}
	return campaignRow, bands, domains
}
