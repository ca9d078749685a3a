package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/accord-antispam/accord/internal/campaign"
)

// liveKeys counts, per campaign, how many of its reports that keep their
// message have each grouping key: a report's keys go when its message
// goes (erasure, retention) unless another such report of its campaign
// has them too (attack 11, F9). Loaded once per campaign and
// transaction, so a purge of many reports of one campaign reads its
// signatures once.
type liveKeys map[string]map[uint64]int

// forgetKeys drops from campaign_keys the keys of report id (its stored
// signature sig, in campaign camp) that no other report of camp keeping
// its message has. Only camp's own keys are looked at: a key the report
// shared with a sealed campaign it did not join is that campaign's, held
// by one of its own reports. Nothing else moves: every report keeps its
// campaign (the partition stands as it was made); the keys only stop
// grouping the reports that come later. Called before the report's
// signature is blanked (or its row deleted), in the same transaction.
func (s *Store) forgetKeys(ctx context.Context, tx *sql.Tx, live liveKeys, id, camp, sig string) error {
	var sg campaign.Signature
	if json.Unmarshal([]byte(sig), &sg) != nil {
		return nil
	}
	ks := sg.Keys()
	if len(ks) == 0 || camp == "" {
		return nil
	}
	counts, ok := live[camp]
	if !ok {
		// The campaign's reports that keep their message, this one too
		// (counted, then taken off like every report dropped after it).
		counts = map[uint64]int{}
		rows, err := tx.QueryContext(ctx, s.q(`SELECT signature FROM reports WHERE campaign_id = ? AND (purged_at = 0 OR id = ?)`), camp, id)
		if err != nil {
			return fmt.Errorf("keys of campaign %s: %w", camp, err)
		}
		for rows.Next() {
			var js string
			if err := rows.Scan(&js); err != nil {
				rows.Close()
				return fmt.Errorf("keys of campaign %s: %w", camp, err)
			}
			var o campaign.Signature
			if json.Unmarshal([]byte(js), &o) != nil {
				continue
			}
			seen := map[uint64]bool{}
			for _, k := range o.Keys() {
				if !seen[k.Hash] {
					seen[k.Hash] = true
					counts[k.Hash]++
				}
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("keys of campaign %s: %w", camp, err)
		}
		live[camp] = counts
	}
	seen := map[uint64]bool{}
	for _, k := range ks {
		if seen[k.Hash] {
			continue
		}
		seen[k.Hash] = true
		if counts[k.Hash]--; counts[k.Hash] > 0 {
			continue
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM campaign_keys WHERE hash = ? AND campaign_id = ?`), int64(k.Hash), camp); err != nil {
			return fmt.Errorf("forget the keys of report %s: %w", id, err)
		}
	}
	return nil
}
