package sqlstore

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/stats"
)

// recordKey is a report's secret statistics key, 0..255: the first byte of
// the hash of its status token, which never leaves the database (the
// token itself is never stored). Computed in SQL, so a cell's key is one
// SUM next to its COUNT.
func (s *Store) recordKey(a string) string {
	pos := "instr"
	if s.d.Name == "postgres" {
		pos = "strpos"
	}
	nib := func(i int) string {
		return "(" + pos + "('0123456789abcdef', substr(" + a + ".status_hash, " + strconv.Itoa(i) + ", 1)) - 1)"
	}
	return "(" + nib(1) + " * 16 + " + nib(2) + ")"
}

const nanosPerDay = int64(24 * time.Hour)

// Breakdown implements stats.Store.
func (s *Store) Breakdown(ctx context.Context, f intake.Browse, d stats.Dimension, limit int) ([]stats.Cell, error) {
	if err := f.Check(); err != nil {
		return nil, err
	}
	where, args := reportConds(f, "r", true)
	if len(where) == 0 {
		where = []string{"1 = 1"}
	}
	key := s.recordKey("r")
	var sel, from, group, order string
	from = "reports r"
	top := " ORDER BY COUNT(*) DESC, v"
	switch d {
	case stats.Day:
		sel, group, top = "r.received_at / "+strconv.FormatInt(nanosPerDay, 10)+" AS v, ''", "v", " ORDER BY v"
	case stats.Country:
		sel, group = "r.country AS v, ''", "r.country"
		where = append(where, "r.country <> ''")
	case stats.Network:
		sel, group = "r.asn AS v, MAX(r.network)", "r.asn"
		where = append(where, "r.asn <> 0")
	case stats.SenderDomain:
		sel, group = "r.from_domain AS v, ''", "r.from_domain"
		where = append(where, "r.from_domain <> ''")
	case stats.LinkDomain:
		sel, from, group = "sd.domain AS v, ''", "reports r JOIN report_domains sd ON sd.report_id = r.id", "sd.domain"
	case stats.Form:
		sel, group = "r.form AS v, ''", "r.form"
	case stats.Channel:
		sel, group = "r.channel AS v, ''", "r.channel"
	case stats.Finding:
		sel, from, group = "sf.code AS v, ''", "reports r JOIN report_findings sf ON sf.report_id = r.id", "sf.code"
	case stats.Campaign:
		sel, from, group = "r.campaign_id AS v, MAX(sc.subject)", "reports r JOIN campaigns sc ON sc.id = r.campaign_id", "r.campaign_id"
	default:
		return nil, fmt.Errorf("stats: unknown dimension %q", d)
	}
	limit, err := limitOf(limit, stats.MaxCells, stats.MaxCells, stats.ErrLimit)
	if err != nil {
		return nil, err
	}
	order = top + " LIMIT " + strconv.Itoa(limit)
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+sel+`, COUNT(*), COALESCE(SUM(`+key+`), 0) FROM `+from+
		` WHERE `+strings.Join(where, " AND ")+` GROUP BY `+group+order), args...)
	if err != nil {
		return nil, fmt.Errorf("breakdown by %s: %w", d, err)
	}
	defer rows.Close()
	var out []stats.Cell
	for rows.Next() {
		var c stats.Cell
		var v any
		if err := rows.Scan(&v, &c.Label, &c.N, &c.Key); err != nil {
			return nil, fmt.Errorf("breakdown by %s: %w", d, err)
		}
		switch d {
		case stats.Day:
			c.Value = time.Unix(0, asInt(v)*nanosPerDay).UTC().Format("2006-01-02")
		case stats.Network:
			c.Value = "AS" + strconv.FormatInt(asInt(v), 10)
		default:
			c.Value = asString(v)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func asInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int32:
		return int64(x)
	case float64:
		return int64(x)
	case []byte:
		n, _ := strconv.ParseInt(string(x), 10, 64)
		return n
	case string:
		n, _ := strconv.ParseInt(x, 10, 64)
		return n
	}
	return 0
}

func asString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// Total implements stats.Store.
func (s *Store) Total(ctx context.Context, f intake.Browse) (stats.Cell, error) {
	if err := f.Check(); err != nil {
		return stats.Cell{}, err
	}
	where, args := reportConds(f, "r", true)
	if len(where) == 0 {
		where = []string{"1 = 1"}
	}
	var c stats.Cell
	err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*), COALESCE(SUM(`+s.recordKey("r")+`), 0) FROM reports r WHERE `+strings.Join(where, " AND ")), args...).Scan(&c.N, &c.Key)
	if err != nil {
		return c, fmt.Errorf("count reports: %w", err)
	}
	return c, nil
}

var _ stats.Store = (*Store)(nil)
