package intake

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Browse is how the desk and the API narrow lists of reports and
// campaigns. Every field is optional; set ones are combined with AND.
type Browse struct {
	From, To     time.Time // Received in [From, To).
	Country      string    // Origin country, ISO 3166 alpha-2.
	ASN          int       // Origin network.
	SenderDomain string    // The From domain, exactly (lower case).
	LinkDomain   string    // A registrable domain linked from the message.
	Finding      string    // A reason code of the verdict.
	Form         string    // How the message was found in the complaint.
	Channel      Channel
	Status       string // The case status of the report's campaign ("new" when no case was opened).
	Subject      string // A case-insensitive substring of the subject.
}

// Empty reports whether no filter is set.
func (b Browse) Empty() bool { return b == Browse{} }

// MaxSubjectSearch bounds a subject search: longer is ErrBadFilter.
const MaxSubjectSearch = 200

// ErrBadFilter is returned for a filter value a store cannot use.
var ErrBadFilter = errors.New("intake: bad filter")

// Check validates the values (a caller maps the error to a 400).
func (b Browse) Check() error {
	if len(b.Subject) > MaxSubjectSearch {
		return fmt.Errorf("%w: a subject search is at most %d bytes", ErrBadFilter, MaxSubjectSearch)
	}
	if !b.From.IsZero() && !b.To.IsZero() && !b.From.Before(b.To) {
		return fmt.Errorf("%w: the date range is empty (from must be before to)", ErrBadFilter)
	}
	if b.ASN < 0 {
		return fmt.Errorf("%w: a network number is positive", ErrBadFilter)
	}
	return nil
}

// Cursor marks a place in a list: the last row of the page before. It
// travels as an opaque string (Encode) and is keyset paging, so a page is
// the same whatever arrived in the meantime, and deep pages cost no more
// than the first.
type Cursor struct {
	At time.Time // Reports: received_at. Campaigns: the last report's time.
	N  int       // Campaigns: report count.
	ID string
}

// IsZero reports whether the cursor is unset (the first page).
func (c Cursor) IsZero() bool { return c.ID == "" }

// Encode renders the cursor for a "next" link.
func (c Cursor) Encode() string {
	if c.IsZero() {
		return ""
	}
	raw := strconv.FormatInt(c.At.UnixNano(), 10) + "." + strconv.Itoa(c.N) + "." + c.ID
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// ParseCursor reads an encoded cursor; "" is the first page.
func ParseCursor(s string) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) > 200 {
		return Cursor{}, fmt.Errorf("%w: the cursor is not one this node gave out", ErrBadFilter)
	}
	parts := strings.SplitN(string(b), ".", 3)
	if len(parts) != 3 || parts[2] == "" {
		return Cursor{}, fmt.Errorf("%w: the cursor is not one this node gave out", ErrBadFilter)
	}
	at, err1 := strconv.ParseInt(parts[0], 10, 64)
	n, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil || n < 0 {
		return Cursor{}, fmt.Errorf("%w: the cursor is not one this node gave out", ErrBadFilter)
	}
	return Cursor{At: time.Unix(0, at).UTC(), N: n, ID: parts[2]}, nil
}

// NextReports is the cursor after a page of reports.
func NextReports(page []ReportSummary) Cursor {
	if len(page) == 0 {
		return Cursor{}
	}
	l := page[len(page)-1]
	return Cursor{At: l.ReceivedAt, ID: l.ID}
}

// NextCampaigns is the cursor after a page of campaigns.
func NextCampaigns(page []CampaignSummary) Cursor {
	if len(page) == 0 {
		return Cursor{}
	}
	l := page[len(page)-1]
	return Cursor{At: l.LastSeen, N: l.Reports, ID: l.ID}
}
