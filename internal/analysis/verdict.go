package analysis

import (
	"time"

	"github.com/accord-antispam/accord/internal/label"
	"github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/mailauth"
	"github.com/accord-antispam/accord/internal/rules"
	"github.com/accord-antispam/accord/internal/trace"
	"github.com/accord-antispam/accord/internal/trace/geo"
)

// SchemaVersion is the version of the Verdict JSON (docs/verdict.md). Field
// names are stable within a version; additions do not change it.
const SchemaVersion = 1

// Verdict is everything Accord concludes about one message.
type Verdict struct {
	SchemaVersion int               `json:"schema_version"`
	Source        string            `json:"source"`
	Engine        Engine            `json:"engine"`
	Message       MessageInfo       `json:"message"`
	Origin        Origin            `json:"origin"`
	Auth          *mailauth.Results `json:"auth"`
	Sender        Sender            `json:"sender"`
	OptOut        rules.OptOut      `json:"opt_out"`
	Commercial    rules.Commercial  `json:"commercial"`
	Phishing      rules.Phishing    `json:"phishing"`
	Content       ContentInfo       `json:"content"`
	Legal         []rules.Judgement `json:"legal"`
	Spam          *Spam             `json:"spam,omitempty"`
	Unwrapped     *Unwrapped        `json:"unwrapped,omitempty"`
	Label         *label.Result     `json:"label,omitempty"` // The compliance label, when the message carries one and labels are checked.
	Reasons       []Reason          `json:"reasons"`
}

// Unwrapped says that the message was recovered from a report, and
// whether the report's source address agrees with the origin found.
type Unwrapped struct {
	Report       string    `json:"report"`        // The report the message came from.
	Form         string    `json:"form"`          // "arf", "x-arf" or "attached".
	FeedbackType string    `json:"feedback_type"` // ARF Feedback-Type or X-ARF type ("abuse", "messaging/spam"), "" when not given.
	ReportedIP   string    `json:"reported_ip"`   // The report's Source-IP, "" when not given.
	OriginAgrees rules.Tri `json:"origin_agrees"` // Whether it is origin.ip.
	Why          string    `json:"why"`
}

// Engine names what judged the message.
type Engine struct {
	Version string `json:"version"`  // The engine (binary) version.
	GeoData string `json:"geo_data"` // Date of the IP-to-country and network data (YYYY-MM-DD), "" without it.
}

// MessageInfo identifies the message and its structure.
type MessageInfo struct {
	MessageID  string        `json:"message_id"`
	Date       string        `json:"date"`
	DateParsed *time.Time    `json:"date_parsed"`
	Subject    string        `json:"subject"`
	Size       int           `json:"size"`
	Truncated  bool          `json:"truncated"`
	SHA256     string        `json:"sha256"`
	MIME       []PartSummary `json:"mime"`
	Defects    []mail.Defect `json:"defects"`
}

// PartSummary describes one MIME entity.
type PartSummary struct {
	ID          string `json:"id"`
	ContentType string `json:"content_type"`
	Charset     string `json:"charset,omitempty"`
	Encoding    string `json:"encoding,omitempty"`
	Disposition string `json:"disposition,omitempty"`
	Filename    string `json:"filename,omitempty"`
	Size        int    `json:"size"`
	Depth       int    `json:"depth"`
}

// Origin is the trace-back result.
type Origin struct {
	IP   string `json:"ip"`   // First untrusted relay's address, "" when none was found.
	RDNS string `json:"rdns"` // Its reverse name, as recorded by our trusted receiver.
	// NoRDNS: our receiver recorded that the origin has no reverse name
	// it could confirm (Postfix's "unknown [ip]", a milter's "[ip]").
	NoRDNS  bool         `json:"no_rdns"`
	HELO    string       `json:"helo"`    // What it claimed to be.
	Country string       `json:"country"` // ISO 3166-1 alpha-2 of the address's registration.
	Network *geo.Network `json:"network"`
	Hop     int          `json:"hop"`   // Index of the origin in hops (0 = newest), -1 when none.
	Trust   string       `json:"trust"` // "inferred", "given" or "session".
	Why     string       `json:"why"`   // Why the boundary lies there.
	// ForwardedBy names the forwarder the ARC chain shows, with the state
	// of its chain; "" when no forwarder sealed the message.
	ForwardedBy string `json:"forwarded_by"`
	// Authenticated: the origin is a client that authenticated to submit
	// the message (the hops below it are its own).
	Authenticated bool        `json:"authenticated"`
	Forged        bool        `json:"forged"`
	Hops          []trace.Hop `json:"hops"`
}

// Sender is the author and reply identities.
type Sender struct {
	From              []mail.Address  `json:"from"`
	Sender            []mail.Address  `json:"sender"`
	ReplyTo           []mail.Address  `json:"reply_to"`
	ReturnPath        string          `json:"return_path"`
	Domains           SenderDomains   `json:"domains"`
	Alignment         Alignment       `json:"alignment"`
	IdentityDisguised rules.Tri       `json:"identity_disguised"`
	Findings          []rules.Finding `json:"findings"`
	Brand             string          `json:"brand"` // The brand or organisation the From display name names, "" when none.
}

// SenderDomains are the domains of each identity.
type SenderDomains struct {
	From       string `json:"from"`
	Sender     string `json:"sender"`
	ReplyTo    string `json:"reply_to"`
	ReturnPath string `json:"return_path"`
}

// Alignment says which identities share the From domain's organizational
// domain (relaxed alignment, RFC 7489 3.1).
type Alignment struct {
	ReturnPath bool `json:"return_path"`
	ReplyTo    bool `json:"reply_to"`
	Sender     bool `json:"sender"`
	DKIM       bool `json:"dkim"` // Some DKIM signature's d= aligns, whatever its result.
}

// ContentInfo is what the reader sees.
type ContentInfo struct {
	Text          string            `json:"text"`
	HTMLText      string            `json:"html_text"`
	TextTruncated bool              `json:"text_truncated"`
	URLs          []mail.URL        `json:"urls"`
	URLsTruncated bool              `json:"urls_truncated"` // More than mail.MaxURLs distinct links; the rest are not listed.
	Domains       []string          `json:"domains"`
	Emails        []string          `json:"emails"`
	Phones        []string          `json:"phones"`
	Attachments   []mail.Attachment `json:"attachments"`
	HTML          mail.HTMLInfo     `json:"html"`
}

// Spam is the classifier's opinion. It is filled only when a classifier is
// configured.
type Spam struct {
	Score      float64      `json:"score"` // Probability of spam, 0..1.
	Class      string       `json:"class"` // "spam", "ham" or "unsure".
	Thresholds Thresholds   `json:"thresholds"`
	Reasons    []SpamReason `json:"reasons"`
	Trained    int          `json:"trained"` // Messages the model has learned from.
}

// Thresholds split the score into classes.
type Thresholds struct {
	Ham  float64 `json:"ham"`  // Below: ham.
	Spam float64 `json:"spam"` // At or above: spam.
}

// SpamReason is one feature that moved the score, with its weight
// (positive towards spam).
type SpamReason struct {
	Feature string  `json:"feature"`
	Weight  float64 `json:"weight"`
}

// Reason is one conclusion, with a stable code for UIs, logs and rules.
type Reason struct {
	Code   ReasonCode `json:"code"`
	Detail string     `json:"detail"`
}
