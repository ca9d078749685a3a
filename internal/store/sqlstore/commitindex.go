package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"

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

	byBand     map[int64][]int // Which reports ask for which key.
	byDomain   map[string][]int
	bandKeys   []int64 // The keys to read, each once.
	domainKeys []string
	sigs       *signatures // Campaigns' signatures decoded so far.

	// The candidates read, by key, until fill hands them to the reports.
	keyBands   map[int64][]campaign.Candidate
	keyDomains map[string][]campaign.Candidate
	reportKeys []*intake.Report // The reports, in order.
}

// candidateLimit bounds the candidates of one report by one kind of key.
const candidateLimit = 50

// Candidate queries: the campaigns of each key, at most candidateLimit
// per key (a link domain shared by thousands of campaigns costs fifty
// rows, not thousands). %s is the condition on the key.
var (
	bandCandidates = `SELECT band, id, signature FROM (SELECT b.band, c.id, c.signature, ROW_NUMBER() OVER (PARTITION BY b.band) AS n
		FROM campaign_bands b JOIN campaigns c ON c.id = b.campaign_id WHERE b.band %s) AS w WHERE n <= ` + strconv.Itoa(candidateLimit)
	domainCandidates = `SELECT domain, id, signature FROM (SELECT d.domain, c.id, c.signature, ROW_NUMBER() OVER (PARTITION BY d.domain) AS n
		FROM campaign_domains d JOIN campaigns c ON c.id = d.campaign_id WHERE d.domain %s) AS w WHERE n <= ` + strconv.Itoa(candidateLimit)

	// On PostgreSQL the same, key by key: the keys as an array, each
	// one's campaigns by the primary key's index, each campaign by its
	// own. PostgreSQL plans a query before the tables have statistics
	// (a new desk, the first minute of autovacuum) as if they were
	// tiny: the joins above were planned as hash joins over whole-table
	// scans, whose cost grew with every campaign. The LIMITs make each
	// step a parameterized index lookup, whatever the planner believes.
	bandCandidatesPG = `SELECT k.band, b.campaign_id, c.signature FROM unnest($1::bigint[]) AS k(band)
		CROSS JOIN LATERAL (SELECT campaign_id FROM campaign_bands WHERE band = k.band LIMIT ` + strconv.Itoa(candidateLimit) + `) AS b
		CROSS JOIN LATERAL (SELECT signature FROM campaigns WHERE id = b.campaign_id LIMIT 1) AS c`
	domainCandidatesPG = `SELECT k.domain, d.campaign_id, c.signature FROM unnest($1::text[]) AS k(domain)
		CROSS JOIN LATERAL (SELECT campaign_id FROM campaign_domains WHERE domain = k.domain LIMIT ` + strconv.Itoa(candidateLimit) + `) AS d
		CROSS JOIN LATERAL (SELECT signature FROM campaigns WHERE id = d.campaign_id LIMIT 1) AS c`
)

// newCommitIndex notes the keys the reports of a commit ask for; their
// candidates are read next (prefetch, or commitPostgres) and added.
func newCommitIndex(batches []*intake.Batch, sigs *signatures) *commitIndex {
	var reports []*intake.Report
	for _, b := range batches {
		reports = append(reports, b.Reports...)
	}
	x := &commitIndex{bands: make([][]campaign.Candidate, len(reports)), domains: make([][]campaign.Candidate, len(reports)),
		foundedBands: map[uint64][]int{}, foundedDomains: map[string][]int{},
		byBand: map[int64][]int{}, byDomain: map[string][]int{}, sigs: sigs,
		keyBands: map[int64][]campaign.Candidate{}, keyDomains: map[string][]campaign.Candidate{}, reportKeys: reports}
	for i, r := range reports {
		for _, k := range r.Signature.BandKeys() {
			if k != 0 {
				if x.byBand[int64(k)] == nil {
					x.bandKeys = append(x.bandKeys, int64(k))
				}
				x.byBand[int64(k)] = append(x.byBand[int64(k)], i)
			}
		}
		for _, d := range r.Signature.Domains {
			if x.byDomain[d] == nil {
				x.domainKeys = append(x.domainKeys, d)
			}
			x.byDomain[d] = append(x.byDomain[d], i)
		}
	}
	return x
}

// addBand adds campaign id (its signature as stored) to the candidates of
// the reports that ask for band key k.
func (x *commitIndex) addBand(k int64, id, sig string) error {
	c, err := x.candidate(id, sig)
	if err != nil {
		return err
	}
	x.keyBands[k] = append(x.keyBands[k], c)
	return nil
}

// fill gives each report its candidates, at most candidateLimit of each
// kind, key by key, the keys shared by the fewest campaigns first (then
// in order): a link domain or a band of text few campaigns have says more
// of where a report belongs than one hundreds share (sf.net), so the
// campaign it shares with the report is kept when the limit bites. The
// order the rows came in no longer matters: the reports of a commit, and
// the same report in any commit, get the same candidates.
func (x *commitIndex) fill() {
	for i, r := range x.reportKeys {
		var bands []int64
		for _, k := range r.Signature.BandKeys() {
			if k != 0 {
				bands = append(bands, int64(k))
			}
		}
		slices.SortStableFunc(bands, func(a, b int64) int {
			return cmp.Or(cmp.Compare(len(x.keyBands[a]), len(x.keyBands[b])), cmp.Compare(a, b))
		})
		for _, k := range bands {
			for _, c := range x.keyBands[k] {
				x.bands[i] = appendCandidate(x.bands[i], c)
			}
		}
		domains := slices.Clone(r.Signature.Domains)
		slices.SortStableFunc(domains, func(a, b string) int {
			return cmp.Or(cmp.Compare(len(x.keyDomains[a]), len(x.keyDomains[b])), cmp.Compare(a, b))
		})
		for _, d := range domains {
			for _, c := range x.keyDomains[d] {
				x.domains[i] = appendCandidate(x.domains[i], c)
			}
		}
	}
}

// addDomain adds campaign id to the candidates of the reports that ask
// for link domain d.
func (x *commitIndex) addDomain(d, id, sig string) error {
	c, err := x.candidate(id, sig)
	if err != nil {
		return err
	}
	x.keyDomains[d] = append(x.keyDomains[d], c)
	return nil
}

func (x *commitIndex) candidate(id, sig string) (campaign.Candidate, error) {
	c := campaign.Candidate{ID: id}
	if known, ok := x.sigs.get(id); ok {
		c.Signature = known
		return c, nil
	}
	if err := json.Unmarshal([]byte(sig), &c.Signature); err != nil {
		return c, fmt.Errorf("campaign %s: bad signature: %w", id, err)
	}
	x.sigs.put(id, c.Signature)
	return c, nil
}

// signatures keeps the campaigns' signatures a store decoded, across its
// commits: a campaign's signature is its founder's and never changes, and
// the same campaigns come back as candidates commit after commit (fifty
// of a popular link domain's each time), each a JSON decoding.
type signatures struct {
	mu sync.Mutex
	m  map[string]campaign.Signature
}

// maxSignatures bounds the signatures kept (a few hundred bytes each).
const maxSignatures = 20000

func (s *signatures) get(id string) (campaign.Signature, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sig, ok := s.m[id]
	return sig, ok
}

func (s *signatures) put(id string, sig campaign.Signature) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]campaign.Signature{}
	}
	if len(s.m) >= maxSignatures {
		for k := range s.m { // one out, whichever the map gives
			delete(s.m, k)
			break
		}
	}
	s.m[id] = sig
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

// prefetch reads the candidates of every key of x inside tx, with one
// query per kind of key (in pieces under the parameter limit).
func (s *Store) prefetch(ctx context.Context, tx *sql.Tx, x *commitIndex) error {
	for start := 0; start < len(x.bandKeys); start += maxParams {
		part := x.bandKeys[start:min(len(x.bandKeys), start+maxParams)]
		args := make([]any, len(part))
		for i, k := range part {
			args[i] = k
		}
		err := s.candidates(ctx, tx, bandCandidates, args, func(rows *sql.Rows) error {
			var k int64
			var id, sig string
			if err := rows.Scan(&k, &id, &sig); err != nil {
				return err
			}
			return x.addBand(k, id, sig)
		})
		if err != nil {
			return fmt.Errorf("campaign candidates by text: %w", err)
		}
	}
	for start := 0; start < len(x.domainKeys); start += maxParams {
		part := x.domainKeys[start:min(len(x.domainKeys), start+maxParams)]
		args := make([]any, len(part))
		for i, d := range part {
			args[i] = d
		}
		err := s.candidates(ctx, tx, domainCandidates, args, func(rows *sql.Rows) error {
			var d, id, sig string
			if err := rows.Scan(&d, &id, &sig); err != nil {
				return err
			}
			return x.addDomain(d, id, sig)
		})
		if err != nil {
			return fmt.Errorf("campaign candidates by link domain: %w", err)
		}
	}
	x.fill()
	return nil
}

func (s *Store) candidates(ctx context.Context, tx *sql.Tx, query string, keys []any, scan func(*sql.Rows) error) error {
	rows, err := tx.QueryContext(ctx, s.q(fmt.Sprintf(query, "IN ("+placeholders(len(keys))+")")), keys...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := scan(rows); err != nil {
			return err
		}
	}
	return rows.Err()
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
