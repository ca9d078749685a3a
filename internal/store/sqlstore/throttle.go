package sqlstore

import (
	"context"
	"fmt"
	"time"
)

// TakeToken takes a token from the shared bucket key, which holds n tokens
// and refills n per period, and says whether there was one and, if not,
// how long until there is. The bucket lives in the database, so every
// instance on it counts together: a guesser spreading sign-in attempts
// over several instances behind a load balancer meets one limit, not one
// per instance. One statement (an upsert whose update reads the row as it
// was), so concurrent takes never both spend the last token.
func (s *Store) TakeToken(ctx context.Context, key string, n int, period time.Duration, now time.Time) (bool, time.Duration, error) {
	if n <= 0 || period <= 0 {
		return true, 0, nil
	}
	least, greatest := "LEAST", "GREATEST"
	if s.d.Name == "sqlite" {
		least, greatest = "MIN", "MAX"
	}
	refill := fmt.Sprintf("%s(excluded.burst, throttle.tokens + %s(0, excluded.last - throttle.last) * excluded.rate)", least, greatest)
	rate := float64(n) / float64(period.Nanoseconds())
	var tokens float64
	var ok int64
	err := s.db.QueryRowContext(ctx, s.q(`INSERT INTO throttle (bucket, tokens, last, burst, rate, ok) VALUES (?, ?, ?, ?, ?, 1)
		ON CONFLICT (bucket) DO UPDATE SET
			tokens = CASE WHEN `+refill+` >= 1 THEN `+refill+` - 1 ELSE `+refill+` END,
			ok = CASE WHEN `+refill+` >= 1 THEN 1 ELSE 0 END,
			last = `+greatest+`(throttle.last, excluded.last),
			burst = excluded.burst, rate = excluded.rate
		RETURNING tokens, ok`), key, float64(n-1), now.UnixNano(), float64(n), rate).Scan(&tokens, &ok)
	if err != nil {
		return false, 0, fmt.Errorf("throttle %s: %w", key, err)
	}
	// Buckets idle for a period are full again: forgetting them changes
	// nothing, and a flood of distinct keys costs bounded rows.
	if s.throttleTakes.Add(1)%512 == 0 {
		if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM throttle WHERE last < ?`), now.Add(-period).UnixNano()); err != nil {
			return false, 0, fmt.Errorf("throttle: forget idle buckets: %w", err)
		}
	}
	if ok == 1 {
		return true, 0, nil
	}
	return false, time.Duration((1 - tokens) / rate), nil
}
