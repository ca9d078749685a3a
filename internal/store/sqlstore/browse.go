package sqlstore

import (
	"strings"

	"github.com/accord-antispam/accord/internal/intake"
)

// likePattern is a case-insensitive LIKE pattern for a substring, with the
// wildcards in it taken literally ("50%" finds "50%", not "50 anything").
func likePattern(s string) string {
	s = strings.ToLower(s)
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}

// reportConds are the conditions a Browse puts on the reports table
// aliased a. withSubject is false where the subject searched is another
// table's (campaigns).
func reportConds(b intake.Browse, a string, withSubject bool) ([]string, []any) {
	var where []string
	var args []any
	add := func(cond string, v ...any) {
		where = append(where, cond)
		args = append(args, v...)
	}
	if !b.From.IsZero() {
		add(a+".received_at >= ?", nanos(b.From))
	}
	if !b.To.IsZero() {
		add(a+".received_at < ?", nanos(b.To))
	}
	if b.Country != "" {
		add(a+".country = ?", strings.ToUpper(b.Country))
	}
	if b.ASN != 0 {
		add(a+".asn = ?", b.ASN)
	}
	if b.SenderDomain != "" {
		add(a+".from_domain = ?", strings.ToLower(b.SenderDomain))
	}
	if b.LinkDomain != "" {
		add("EXISTS (SELECT 1 FROM report_domains bd WHERE bd.report_id = "+a+".id AND bd.domain = ?)", strings.ToLower(b.LinkDomain))
	}
	if b.Finding != "" {
		add("EXISTS (SELECT 1 FROM report_findings bf WHERE bf.report_id = "+a+".id AND bf.code = ?)", b.Finding)
	}
	if b.Form != "" {
		add(a+".form = ?", b.Form)
	}
	if b.Channel != "" {
		add(a+".channel = ?", string(b.Channel))
	}
	if b.Status != "" {
		add("COALESCE((SELECT bk.status FROM cases bk WHERE bk.campaign_id = "+a+".campaign_id), 'new') = ?", b.Status)
	}
	if withSubject && b.Subject != "" {
		add("LOWER("+a+".subject) LIKE ? ESCAPE '\\'", likePattern(b.Subject))
	}
	return where, args
}

// campaignConds are the conditions a Browse puts on campaigns aliased c
// (with their cases aliased k): the campaign's own subject and status,
// and at least one report matching the rest.
func campaignConds(b intake.Browse) ([]string, []any) {
	var where []string
	var args []any
	if b.Subject != "" {
		where = append(where, "LOWER(c.subject) LIKE ? ESCAPE '\\'")
		args = append(args, likePattern(b.Subject))
	}
	if b.Status != "" {
		where = append(where, "COALESCE(k.status, 'new') = ?")
		args = append(args, b.Status)
	}
	rb := b
	rb.Subject, rb.Status = "", ""
	if rc, ra := reportConds(rb, "br", false); len(rc) > 0 {
		where = append(where, "EXISTS (SELECT 1 FROM reports br WHERE br.campaign_id = c.id AND "+strings.Join(rc, " AND ")+")")
		args = append(args, ra...)
	}
	return where, args
}
