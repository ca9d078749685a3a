package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/accord-antispam/accord/internal/campaign"
	"github.com/accord-antispam/accord/internal/intake"
)

// commitIndex is the campaign index seen from inside one commit, built so
// that a commit costs a fixed number of round trips whatever its size: the
// candidates of every report of the group are read with two simple queries
// at the start (one per kind of key: band keys of the text, link domains;
// at most fifty campaigns per key and per report), and the campaigns
// founded within the commit are kept in memory and written at the end.
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
	// Which reports ask for which key.
	byBand := map[int64][]int{}
	byDomain := map[string][]int{}
	for i, r := range reports {
		for _, k := range r.Signature.BandKeys() {
			if k != 0 {
				byBand[int64(k)] = append(byBand[int64(k)], i)
			}
		}
		for _, d := range r.Signature.Domains {
			byDomain[d] = append(byDomain[d], i)
		}
	}
	bandKeys := make([]any, 0, len(byBand))
	for k := range byBand {
		bandKeys = append(bandKeys, k)
	}
	domainKeys := make([]any, 0, len(byDomain))
	for d := range byDomain {
		domainKeys = append(domainKeys, d)
	}
	sigs := map[string]campaign.Signature{}
	err := s.prefetch(ctx, tx, `SELECT b.band, c.id, c.signature FROM campaign_bands b JOIN campaigns c ON c.id = b.campaign_id WHERE b.band IN (%s)`,
		"band", bandKeys, sigs, func(key any, c campaign.Candidate) {
			for _, i := range byBand[key.(int64)] {
				x.bands[i] = appendCandidate(x.bands[i], c)
			}
		})
	if err != nil {
		return nil, fmt.Errorf("campaign candidates by text: %w", err)
	}
	err = s.prefetch(ctx, tx, `SELECT d.domain, c.id, c.signature FROM campaign_domains d JOIN campaigns c ON c.id = d.campaign_id WHERE d.domain IN (%s)`,
		"domain", domainKeys, sigs, func(key any, c campaign.Candidate) {
			for _, i := range byDomain[key.(string)] {
				x.domains[i] = appendCandidate(x.domains[i], c)
			}
		})
	if err != nil {
		return nil, fmt.Errorf("campaign candidates by link domain: %w", err)
	}
	return x, nil
}

// appendCandidate adds c once, up to the limit per report.
func appendCandidate(cs []campaign.Candidate, c campaign.Candidate) []campaign.Candidate {
	if len(cs) >= candidateLimit {
		return cs
	}
	for _, have := range cs {
		if have.ID == c.ID {
			return cs
		}
	}
	return append(cs, c)
}

// prefetch reads the campaigns of every key with one query (in pieces
// under the parameter limit), at most candidateLimit per key: a link
// domain shared by thousands of campaigns costs fifty rows, not
// thousands.
func (s *Store) prefetch(ctx context.Context, tx *sql.Tx, query, keyCol string, keys []any, sigs map[string]campaign.Signature, add func(any, campaign.Candidate)) error {
	for start := 0; start < len(keys); start += maxParams {
		part := keys[start:min(len(keys), start+maxParams)]
		q := `SELECT ` + keyCol + `, id, signature FROM (SELECT q.*, ROW_NUMBER() OVER (PARTITION BY q.` + keyCol + `) AS n FROM (` +
			fmt.Sprintf(query, placeholders(len(part))) + `) AS q) AS w WHERE n <= ` + strconv.Itoa(candidateLimit)
		rows, err := tx.QueryContext(ctx, s.q(q), part...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id, sig string
			var key any
			var band int64
			var domain string
			if keyCol == "band" {
				err = rows.Scan(&band, &id, &sig)
				key = band
			} else {
				err = rows.Scan(&domain, &id, &sig)
				key = domain
			}
			if err != nil {
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
			add(key, c)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
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
