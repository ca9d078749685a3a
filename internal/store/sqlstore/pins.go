package sqlstore

import (
	"context"
	"fmt"
	"time"
)

// Pin records value under name unless a value is already pinned there, and
// returns the pinned value: the first instance of a node to start pins
// what every later one must match (a key copied to each data folder). With
// replace, value becomes the pinned value (an operator changing it on
// purpose).
func (s *Store) Pin(ctx context.Context, name, value string, replace bool) (string, error) {
	conflict := `DO NOTHING`
	if replace {
		conflict = `DO UPDATE SET value = excluded.value, set_at = excluded.set_at`
	}
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO node_pins (name, value, set_at) VALUES (?, ?, ?) ON CONFLICT (name) `+conflict),
		name, value, time.Now().UnixNano()); err != nil {
		return "", fmt.Errorf("pin %s: %w", name, err)
	}
	var pinned string
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT value FROM node_pins WHERE name = ?`), name).Scan(&pinned); err != nil {
		return "", fmt.Errorf("pin %s: %w", name, err)
	}
	return pinned, nil
}
