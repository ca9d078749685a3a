// Package config is a node's configuration: one TOML file whose every field
// has a default, so `accord serve` with no file at all runs a working node.
package config

import (
	"bytes"
	"fmt"
	netmail "net/mail"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/accord-antispam/accord/internal/iso3166"
)

// Config is the whole file.
type Config struct {
	Data       string     `toml:"data" comment:"Data folder: database, classifier model, node keys."`
	Node       Node       `toml:"node"`
	HTTP       HTTP       `toml:"http"`
	SMTP       SMTP       `toml:"smtp"`
	Store      Store      `toml:"store"`
	Analysis   Analysis   `toml:"analysis"`
	Privacy    Privacy    `toml:"privacy"`
	Federation Federation `toml:"federation"`
	Senders    Senders    `toml:"senders"`
	Outbound   Outbound   `toml:"outbound"`
	Filter     Filter     `toml:"filter"`
	Statistics Statistics `toml:"statistics"`
}

// Statistics governs the published statistics (CSV and JSON exports).
type Statistics struct {
	MinCell int `toml:"min_cell"` // Smallest count an export shows; smaller cells are suppressed.
	Noise   int `toml:"noise"`    // Largest perturbation of a published count (cell-key method); 0 for none.
}

// Outbound is the node's own mail: acknowledgements and answers to
// reporters, and later digests and confirmations.
type Outbound struct {
	// From is the address the node's mail comes from; its domain is the
	// mail domain (DKIM d=, bounce addresses). Default: desk@ the SMTP
	// hostname.
	From string `toml:"from"`
	// Relay is "smtp://host:port" (with STARTTLS) or "smtps://host:port".
	// Empty: mail waits in the queue until a relay is configured.
	Relay        string `toml:"relay"`
	TLS          string `toml:"tls"` // "starttls" (default), "none" (a relay on this machine only, or without AUTH), "implicit".
	Username     string `toml:"username"`
	PasswordFile string `toml:"password_file"` // A file holding the relay password (not the password itself, which would sit in the config).
	CAFile       string `toml:"ca_file"`       // PEM certificates to trust for the relay (a private CA); default the system's.
	DKIMKey      string `toml:"dkim_key"`      // PEM key file; default DATA/dkim.key, created at first start.
	DKIMSelector string `toml:"dkim_selector"` // Default "accord": publish SELECTOR._domainkey.DOMAIN (accord node dkim).
	Answers      bool   `toml:"answers"`       // Mail reporters an acknowledgement or a how-to (default true).
	MaxPerHour   int    `toml:"max_per_hour"`  // Answers to one address per hour (default 10).
}

// Filter is the filter for mail providers: its three doors (each off when
// its address is empty) and how it decides. See docs/filter.md.
type Filter struct {
	Milter            string   `toml:"milter"`              // Milter listener: "127.0.0.1:11332" or "unix:/path".
	Rspamd            string   `toml:"rspamd"`              // rspamd-compatible HTTP listener: "127.0.0.1:11333".
	Spamd             string   `toml:"spamd"`               // spamd listener: "127.0.0.1:783".
	AuthServID        string   `toml:"authserv_id"`         // In Authentication-Results; default smtp.hostname.
	MaxScan           int64    `toml:"max_scan"`            // Larger messages pass with a header, unscanned.
	Timeout           Duration `toml:"timeout"`             // For one decision.
	TempFailOnTimeout bool     `toml:"tempfail_on_timeout"` // Also when busy (see max_scans).
	// MaxScans bounds the scans running at once across the doors (0: twice
	// the CPUs, at least 4); a check that finds no slot within ScanWait is
	// refused for now: rspamd 503, spamd EX_TEMPFAIL, milter fail-open or
	// tempfail (tempfail_on_timeout). See docs/filter.md.
	MaxScans int      `toml:"max_scans"`
	ScanWait Duration `toml:"scan_wait"`
	// BodyBudget bounds the message bytes the doors hold at once, in MiB
	// (0: 2 × max_scans × max_scan); a body that finds it spent within
	// scan_wait is answered busy without being read.
	BodyBudgetMB int64 `toml:"body_budget_mb"`
	// Connections each door keeps open, in all and from one client address
	// (IPv6: its /64); over a bound a connection is refused at once.
	MaxConns      int `toml:"max_conns"`
	MaxConnsPerIP int `toml:"max_conns_per_ip"`
	// MilterIdleTimeout closes an MTA connection that sends nothing for
	// this long (longer than Postfix's smtpd_timeout, 300 s).
	MilterIdleTimeout Duration `toml:"milter_idle_timeout"`
	// MilterConnectTimeout closes an MTA connection that negotiated and
	// sends no connect within this long (Postfix and Sendmail send it at
	// once); at most milter_idle_timeout.
	MilterConnectTimeout Duration `toml:"milter_connect_timeout"`
	QuarantineDays       int      `toml:"quarantine_days"`
	// Quarantine quotas (see docs/filter.md): messages and MiB held per
	// recipient, MiB stored in all; 0 takes the default (1000, 200, 4096).
	QuarantineMaxPerRecipient int   `toml:"quarantine_max_per_recipient"`
	QuarantineMaxRecipientMB  int64 `toml:"quarantine_max_recipient_mb"`
	QuarantineMaxMB           int64 `toml:"quarantine_max_mb"`
	// RecipientDelimiter separates a sub-address ("ana+news@") from the
	// mailbox whose policy applies: each character is one; default "+",
	// "none" for none (docs/filter.md).
	RecipientDelimiter string `toml:"recipient_delimiter"`
	// AllowedIPs are the clients (IPs or CIDRs) the rspamd and spamd doors
	// serve besides loopback, as spamd's --allowed-ips; others are refused.
	AllowedIPs         []string `toml:"allowed_ips"`
	LearnedDays        int      `toml:"learned_days"` // How long learned features are kept.
	CampaignMinReports int      `toml:"campaign_min_reports"`
	LearnPassword      string   `toml:"learn_password"`   // Required by /learnspam and /learnham when set.
	SpamdAllowTell     bool     `toml:"spamd_allow_tell"` // Accept spamd TELL (spamc -L).
	SyncInterval       Duration `toml:"sync_interval"`    // How often an instance takes in what others learned, and reloads policies and intelligence.
	RebuildInterval    Duration `toml:"rebuild_interval"` // How often the model is rebuilt from every learned message.
	DigestInterval     Duration `toml:"digest_interval"`  // Quarantine digests to recipients; 0 for none.
	DNSBL              []DNSBL  `toml:"dnsbl"`
	DNSBLBudget        Duration `toml:"dnsbl_budget"` // Per message, for all lists.
}

// DNSBL is one blocklist: [[filter.dnsbl]] name = "…", zone = "…".
type DNSBL struct {
	Name   string   `toml:"name"`
	Zone   string   `toml:"zone"`
	Domain bool     `toml:"domain"` // A domain list (URIBL/DBL) rather than an IP list.
	Weight float64  `toml:"weight"`
	Codes  []string `toml:"codes"`
}

// Senders configures the services for registered senders: consent
// records, one-click opt-out and labels.
type Senders struct {
	// PublicURL is where the node's links point (opt-out, confirmation,
	// label status): "https://node.example". Default: the HTTP listener.
	PublicURL string `toml:"public_url"`
	// MailDomain is the domain of the opt-out addresses
	// (unsubscribe+TOKEN@MailDomain), which must reach the SMTP
	// listener. Default: smtp.hostname.
	MailDomain string `toml:"mail_domain"`
	// ConfirmDays is how long a confirmation link works.
	ConfirmDays int `toml:"confirm_days"`
	// Confirmation mails (confirmed opt-in) are the node's mail to anyone
	// a sender's form names: at most ConfirmationsPerMailboxDay to one
	// mailbox in 24 hours (its sub-addresses and spellings folded,
	// whichever sender asked; default 3), ConfirmationsPerDomainHour to
	// one recipient domain in an hour (default 100), and
	// ConfirmationsPerHour for one sender in an hour (default 500).
	ConfirmationsPerMailboxDay int `toml:"confirmations_per_mailbox_day"`
	ConfirmationsPerDomainHour int `toml:"confirmations_per_domain_hour"`
	ConfirmationsPerHour       int `toml:"confirmations_per_hour"`
}

// SendersURL is the node's public URL for links.
func (c Config) SendersURL() string {
	if c.Senders.PublicURL != "" {
		return strings.TrimRight(c.Senders.PublicURL, "/")
	}
	return c.PublicBase()
}

// SendersMailDomain is the domain of the opt-out addresses.
func (c Config) SendersMailDomain() string {
	if c.Senders.MailDomain != "" {
		return c.Senders.MailDomain
	}
	return c.SMTP.Hostname
}

// Federation tunes the exchange with partner nodes.
type Federation struct {
	SyncInterval     Duration `toml:"sync_interval"`     // How often serve pushes to every active peer; 0 turns it off.
	Window           Duration `toml:"window"`            // Accepted clock difference of incoming envelopes.
	RetryInterval    Duration `toml:"retry_interval"`    // First wait before a failed peer is tried again (doubling up to sync_interval).
	PurgeInterval    Duration `toml:"purge_interval"`    // How often received items past their retention are purged, whatever sync_interval is.
	MaxEnvelope      int64    `toml:"max_envelope"`      // Largest envelope the inbox reads, in bytes.
	InboxConcurrency int      `toml:"inbox_concurrency"` // Envelopes handled at once; more are told to come back.
	// InboxMaxRead is the longest the inbox reads one body, however well
	// paced; 0: 2 minutes, or the time max_envelope takes at 256 KiB/s
	// when longer. A partner's envelope larger than this × its upload
	// rate cannot arrive (it is told so, and seals smaller ones).
	InboxMaxRead Duration `toml:"inbox_max_read"`
	// EnvelopeBytes bounds the item bytes of one envelope this node
	// sends (a larger item goes alone); lower it for partners reached over
	// slow links.
	EnvelopeBytes int `toml:"envelope_bytes"`
}

// Node names the node.
type Node struct {
	Name         string `toml:"name"`
	Jurisdiction string `toml:"jurisdiction"` // ISO 3166 alpha-2 or EU: where this node's authority acts.
}

// HTTP is the web UI and API listener.
type HTTP struct {
	Listen    string `toml:"listen"`
	PublicURL string `toml:"public_url"` // How people reach the node (https://desk.example.org): every link the node shows or mails. Default http://LISTEN.
	MaxUpload int64  `toml:"max_upload"`
	// Flood control, per minute; 0 turns a limit off.
	RateFormPerIP    int      `toml:"rate_form_per_ip"`
	RateAPIPerToken  int      `toml:"rate_api_per_token"`
	RateAPIPerIP     int      `toml:"rate_api_per_ip"`
	RateLoginPerIP   int      `toml:"rate_login_per_ip"`
	RateLoginPerUser int      `toml:"rate_login_per_user"`
	InflightBytes    int64    `toml:"inflight_bytes"`  // Bytes of reports analysed at once; more wait.
	TrustedProxies   []string `toml:"trusted_proxies"` // Load balancers (IP or CIDR) whose X-Forwarded-For is believed.
	SecureCookies    bool     `toml:"secure_cookies"`
	HeaderTimeout    Duration `toml:"header_timeout"`  // To read a request's header: slow clients are cut off.
	RequestTimeout   Duration `toml:"request_timeout"` // To read a whole request, and to write the answer.
	// Connections at once, in all and from one client address (an IPv6
	// client by its /64; trusted_proxies count only in all); more get 503.
	MaxConns      int `toml:"max_conns"`
	MaxConnsPerIP int `toml:"max_conns_per_ip"`
}

// SMTP is the complaints mailbox.
type SMTP struct {
	Listen          string   `toml:"listen"`
	Hostname        string   `toml:"hostname"`
	TLSCert         string   `toml:"tls_cert"`
	TLSKey          string   `toml:"tls_key"`
	MaxMessageBytes int64    `toml:"max_message_bytes"`
	MaxRecipients   int      `toml:"max_recipients"`
	Mailbox         string   `toml:"mailbox"`         // The complaints address people are told to forward spam to (on /rights, in the how-to answer; never an address a client named in RCPT); default report@HOSTNAME.
	RatePerSender   int      `toml:"rate_per_sender"` // Complaints per minute from one address.
	RatePerIP       int      `toml:"rate_per_ip"`     // Complaints per minute from one client IP.
	MaxConns        int      `toml:"max_conns"`
	MaxConnsPerIP   int      `toml:"max_conns_per_ip"`
	IdleTimeout     Duration `toml:"idle_timeout"`
	// AnswersPerIP bounds the answers (acknowledgements, how-tos) mailed
	// because of complaints from one client address, per hour: a forged
	// sender gets no flood of the node's signed mail. Default 60.
	AnswersPerIP int      `toml:"answers_per_ip"`
	MaxSession   Duration `toml:"max_session"`
}

// Store chooses the database.
type Store struct {
	Driver string `toml:"driver"` // "sqlite" or "postgres".
	DSN    string `toml:"dsn"`    // PostgreSQL URL.
}

// Analysis tunes the engine.
type Analysis struct {
	Trusted     string `toml:"trusted"`      // Added to the inferred trust boundary.
	TrustedOnly string `toml:"trusted_only"` // The whole boundary, replacing the inference.
	// Resolver is where the node's DNS answers come from: "offline" (none),
	// "live", or the path of a fixture zone file — see CheckResolver.
	Resolver      string   `toml:"resolver"`
	Jurisdictions []string `toml:"jurisdictions"`
}

// The resolver forms besides a zone file's path.
const (
	ResolverOffline = "offline"
	ResolverLive    = "live"
)

// ResolverForms names the accepted resolver values, for error messages.
const ResolverForms = `"offline", "live" or the path of a fixture zone file`

// CheckResolver says why v is not a resolver setting: "offline", "live",
// or the path of a fixture zone file. A zone file makes a checking
// resolver — its keys verify DKIM signatures, and those establish sender
// domains shared with partners — so nothing else is taken for one: an
// empty value, surrounding space, "Live" in another case, and a value
// with a scheme before any slash ("fixture:/path", "dns://…", "udp:…")
// are refused rather than read as a file name. A relative path holding a
// colon can be written "./name".
func CheckResolver(v string) error {
	switch {
	case v == ResolverOffline, v == ResolverLive:
		return nil
	case v == "", strings.TrimSpace(v) != v, strings.EqualFold(v, ResolverOffline), strings.EqualFold(v, ResolverLive):
	default:
		colon, slash := strings.IndexByte(v, ':'), strings.IndexByte(v, '/')
		if colon < 0 || (slash >= 0 && slash < colon) {
			return nil
		}
	}
	return fmt.Errorf("%q: want %s", v, ResolverForms)
}

// ZoneFile is the fixture zone file the resolver setting names, or "" for
// offline and live.
func (a Analysis) ZoneFile() string {
	if a.Resolver == ResolverOffline || a.Resolver == ResolverLive || CheckResolver(a.Resolver) != nil {
		return ""
	}
	return a.Resolver
}

// Privacy governs what leaves the desk, how long it keeps what, and the
// privacy notice shown at /privacy.
type Privacy struct {
	// ExportOriginal puts the original message and complaint, which name
	// the reporter, in evidence bundles; otherwise a redacted copy and the
	// originals' hashes.
	ExportOriginal bool `toml:"export_original"`
	// The notice: who decides (name and postal address), where people
	// exercise their rights, the data protection officer, why the data is
	// processed, on what legal basis, and the supervisory authority.
	Controller  string   `toml:"controller"`
	Contact     string   `toml:"contact"` // An address or URL; default the complaints mailbox.
	DPO         string   `toml:"dpo"`
	Purposes    []string `toml:"purposes"`
	LegalBasis  string   `toml:"legal_basis"`
	Supervisory string   `toml:"supervisory_authority"`
	// Retention in days per kind of data; 0 keeps it. Identity: the
	// reporter's address and the complaint as sent. Evidence: the
	// reported message and its analysis. Statistics: what is left.
	RetentionIdentityDays   int `toml:"retention_identity_days"`
	RetentionEvidenceDays   int `toml:"retention_evidence_days"`
	RetentionStatisticsDays int `toml:"retention_statistics_days"`
	// RetentionMailDays keeps the record of the node's outbound mail
	// (addresses, Message-ID, outcome, bounces) once sent, failed or
	// bounced; its text goes at delivery. The desk's answers to reporters
	// go sooner with the reporter's identity or erasure.
	RetentionMailDays int      `toml:"retention_mail_days"`
	PurgeInterval     Duration `toml:"purge_interval"` // How often serve applies the retention.
}

// Duration reads "60s" in TOML.
type Duration struct{ time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	d.Duration = v
	return err
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Default is the configuration of `accord serve` with no file.
func Default() Config {
	return Config{
		Data: "accord-data",
		Node: Node{Name: "Accord complaint desk"},
		HTTP: HTTP{Listen: "127.0.0.1:8080", MaxUpload: 25 << 20, RateFormPerIP: 30, RateAPIPerToken: 600, RateAPIPerIP: 1200,
			RateLoginPerIP: 30, RateLoginPerUser: 10, InflightBytes: 48 << 20, HeaderTimeout: Duration{10 * time.Second}, RequestTimeout: Duration{2 * time.Minute},
			MaxConns: 1024, MaxConnsPerIP: 64},
		SMTP: SMTP{Listen: "127.0.0.1:2525", Hostname: "localhost", MaxMessageBytes: 25 << 20, MaxRecipients: 50,
			RatePerSender: 30, RatePerIP: 600, MaxConns: 200, MaxConnsPerIP: 20, AnswersPerIP: 60, IdleTimeout: Duration{60 * time.Second}, MaxSession: Duration{10 * time.Minute}},
		Store: Store{Driver: "sqlite"},
		Federation: Federation{SyncInterval: Duration{5 * time.Minute}, Window: Duration{10 * time.Minute}, RetryInterval: Duration{30 * time.Second},
			PurgeInterval: Duration{time.Hour}, MaxEnvelope: 32 << 20, InboxConcurrency: 4, EnvelopeBytes: 16 << 20},
		Analysis: Analysis{Resolver: ResolverOffline, Jurisdictions: []string{"EU"}},
		Senders:  Senders{ConfirmDays: 7, ConfirmationsPerMailboxDay: 3, ConfirmationsPerDomainHour: 100, ConfirmationsPerHour: 500},
		Outbound: Outbound{Answers: true, MaxPerHour: 10, DKIMSelector: "accord"},
		Filter: Filter{MaxScan: 20 << 20, Timeout: Duration{10 * time.Second}, ScanWait: Duration{5 * time.Second}, MaxConns: 512, MaxConnsPerIP: 128,
			MilterIdleTimeout: Duration{6 * time.Minute}, MilterConnectTimeout: Duration{10 * time.Second}, QuarantineDays: 30, LearnedDays: 365, CampaignMinReports: 3,
			SyncInterval: Duration{5 * time.Second}, RebuildInterval: Duration{time.Hour}, DigestInterval: Duration{24 * time.Hour},
			DNSBLBudget: Duration{500 * time.Millisecond}},
		Statistics: Statistics{MinCell: 5, Noise: 2},
		Privacy: Privacy{
			Purposes: []string{
				"to receive and analyse the reports people send about unsolicited electronic messages",
				"to trace spam to its origin and group the reports of one spam run into campaigns",
				"to enforce the law against senders, alone or with partner authorities under cooperation agreements",
				"to publish statistics in which small counts are protected",
			},
			LegalBasis:              "a task carried out in the public interest (GDPR art. 6(1)(e)): enforcing the rules on unsolicited communications (ePrivacy Directive art. 13)",
			RetentionIdentityDays:   90,
			RetentionEvidenceDays:   730,
			RetentionStatisticsDays: 1825,
			RetentionMailDays:       30,
			PurgeInterval:           Duration{time.Hour},
		},
	}
}

// Load reads a file over the defaults. Unknown keys are errors: a typo must
// not silently fall back to a default.
func Load(path string) (Config, error) {
	c := Default()
	b, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("read config: %w", err)
	}
	md, err := toml.Decode(string(b), &c)
	if err != nil {
		return c, fmt.Errorf("config %s: %w", path, err)
	}
	if u := md.Undecoded(); len(u) > 0 {
		return c, fmt.Errorf("config %s: unknown setting %q", path, u[0].String())
	}
	return c, c.Validate()
}

// Validate checks values.
func (c Config) Validate() error {
	if err := c.Filter.validate(); err != nil {
		return err
	}
	if err := CheckResolver(c.Analysis.Resolver); err != nil {
		return fmt.Errorf("config: analysis.resolver %w", err)
	}
	switch c.Store.Driver {
	case "sqlite":
	case "postgres":
		if c.Store.DSN == "" {
			return fmt.Errorf("config: store.driver postgres needs store.dsn")
		}
	default:
		return fmt.Errorf("config: store.driver %q: want sqlite or postgres", c.Store.Driver)
	}
	for name, d := range map[string]Duration{"http.header_timeout": c.HTTP.HeaderTimeout, "http.request_timeout": c.HTTP.RequestTimeout,
		"smtp.idle_timeout": c.SMTP.IdleTimeout, "smtp.max_session": c.SMTP.MaxSession} {
		if d.Duration <= 0 {
			return fmt.Errorf("config: %s must be a positive duration such as \"30s\"", name)
		}
	}
	if c.Federation.SyncInterval.Duration < 0 || c.Federation.Window.Duration <= 0 {
		return fmt.Errorf("config: federation.sync_interval must be 0 (off) or positive, federation.window positive")
	}
	if c.Federation.RetryInterval.Duration <= 0 || c.Federation.PurgeInterval.Duration <= 0 {
		return fmt.Errorf("config: federation.retry_interval and federation.purge_interval must be positive durations")
	}
	if c.Federation.MaxEnvelope < 1<<20 || c.Federation.InboxConcurrency < 1 {
		return fmt.Errorf("config: federation.max_envelope must be at least 1 MiB (1048576) and federation.inbox_concurrency at least 1")
	}
	if c.Federation.InboxMaxRead.Duration < 0 || c.Federation.InboxMaxRead.Duration > 0 && c.Federation.InboxMaxRead.Duration < 10*time.Second {
		return fmt.Errorf("config: federation.inbox_max_read must be 0 (2 minutes, longer for a large max_envelope) or at least 10s")
	}
	if c.Federation.EnvelopeBytes < 64<<10 {
		return fmt.Errorf("config: federation.envelope_bytes must be at least 64 KiB (65536)")
	}
	if j := c.Node.Jurisdiction; j != "" && j != "EU" {
		if err := iso3166.Check(j); err != nil {
			return fmt.Errorf("config: node.jurisdiction: %w (or EU)", err)
		}
	}
	if m := c.SMTP.Mailbox; m != "" {
		if a, err := netmail.ParseAddress(m); err != nil || a.Address != m || a.Name != "" {
			return fmt.Errorf("config: smtp.mailbox %q: want a plain address such as report@desk.example.org", m)
		}
	}
	if u := c.Senders.PublicURL; u != "" && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
		return fmt.Errorf("config: senders.public_url %q: want https://host", u)
	}
	if c.Senders.ConfirmDays < 1 || c.Senders.ConfirmDays > 90 {
		return fmt.Errorf("config: senders.confirm_days must be 1 to 90")
	}
	for name, v := range map[string]int{"confirmations_per_mailbox_day": c.Senders.ConfirmationsPerMailboxDay,
		"confirmations_per_domain_hour": c.Senders.ConfirmationsPerDomainHour, "confirmations_per_hour": c.Senders.ConfirmationsPerHour} {
		if v < 1 {
			return fmt.Errorf("config: senders.%s must be at least 1", name)
		}
	}
	if u := c.HTTP.PublicURL; u != "" {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" || pu.RawQuery != "" || pu.Fragment != "" {
			return fmt.Errorf("config: http.public_url %q: want an absolute http or https URL such as https://desk.example.org", u)
		}
	}
	for _, p := range c.Filter.AllowedIPs {
		if _, err := ParsePrefix(p); err != nil {
			return fmt.Errorf("config: filter.allowed_ips %q: want an IP address or CIDR such as 192.0.2.0/24", p)
		}
	}
	for _, p := range c.HTTP.TrustedProxies {
		if _, err := ParsePrefix(p); err != nil {
			return fmt.Errorf("config: http.trusted_proxies %q: want an IP address or CIDR such as 10.0.0.0/8", p)
		}
	}
	if r := c.Outbound.Relay; r != "" && !strings.HasPrefix(r, "smtp://") && !strings.HasPrefix(r, "smtps://") {
		return fmt.Errorf("config: outbound.relay %q: want smtp://host:port or smtps://host:port", r)
	}
	switch c.Outbound.TLS {
	case "", "starttls", "none", "implicit":
	default:
		return fmt.Errorf("config: outbound.tls %q: want starttls, none or implicit", c.Outbound.TLS)
	}
	for name, v := range map[string]int{"privacy.retention_identity_days": c.Privacy.RetentionIdentityDays,
		"privacy.retention_evidence_days": c.Privacy.RetentionEvidenceDays, "privacy.retention_statistics_days": c.Privacy.RetentionStatisticsDays,
		"privacy.retention_mail_days": c.Privacy.RetentionMailDays} {
		if v < 0 {
			return fmt.Errorf("config: %s must be 0 (keep) or a number of days", name)
		}
	}
	if c.Privacy.PurgeInterval.Duration <= 0 {
		return fmt.Errorf("config: privacy.purge_interval must be a positive duration such as \"1h\"")
	}
	if c.Statistics.MinCell < 1 || c.Statistics.Noise < 0 || c.Statistics.Noise >= c.Statistics.MinCell {
		return fmt.Errorf("config: statistics.min_cell must be at least 1 and statistics.noise from 0 to min_cell - 1")
	}
	if (c.SMTP.TLSCert == "") != (c.SMTP.TLSKey == "") {
		return fmt.Errorf("config: smtp.tls_cert and smtp.tls_key go together")
	}
	return nil
}

// ParsePrefix reads an address or a CIDR prefix.
func ParsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		return netip.ParsePrefix(s)
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// PublicBase is the node's public URL without a trailing slash: the
// configured http.public_url, else http:// and the listen address.
func (c Config) PublicBase() string {
	if c.HTTP.PublicURL != "" {
		return strings.TrimRight(c.HTTP.PublicURL, "/")
	}
	return "http://" + c.HTTP.Listen
}

// Encode writes c as TOML (for `accord config defaults`).
func (c Config) Encode() string {
	var b bytes.Buffer
	toml.NewEncoder(&b).Encode(c)
	return b.String()
}

func (f Filter) validate() error {
	if f.MaxScans < 0 || f.ScanWait.Duration < 0 || f.MaxConns < 0 || f.MaxConnsPerIP < 0 || f.MilterIdleTimeout.Duration < 0 || f.MilterConnectTimeout.Duration < 0 || f.BodyBudgetMB < 0 {
		return fmt.Errorf("config: filter.max_scans, scan_wait, body_budget_mb, max_conns, max_conns_per_ip, milter_idle_timeout and milter_connect_timeout cannot be negative")
	}
	if f.MaxScan <= 0 || f.Timeout.Duration <= 0 || f.QuarantineDays <= 0 || f.LearnedDays <= 0 || f.SyncInterval.Duration <= 0 || f.RebuildInterval.Duration <= 0 {
		return fmt.Errorf("config: filter.max_scan, timeout, quarantine_days, learned_days, sync_interval and rebuild_interval must be positive")
	}
	for _, l := range f.DNSBL {
		if l.Name == "" || l.Zone == "" {
			return fmt.Errorf("config: every [[filter.dnsbl]] needs a name and a zone")
		}
	}
	return nil
}

// MailboxAddress is the complaints address people are told about.
func (c Config) MailboxAddress() string {
	if c.SMTP.Mailbox != "" {
		return c.SMTP.Mailbox
	}
	return "report@" + c.SMTP.Hostname
}

// MailRetention is privacy.retention_mail_days as a duration (0 keeps).
func (c Config) MailRetention() time.Duration {
	return time.Duration(c.Privacy.RetentionMailDays) * 24 * time.Hour
}

// Retention is the privacy section's retention as durations.
func (c Config) Retention() (identity, evidence, statistics time.Duration) {
	d := func(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }
	return d(c.Privacy.RetentionIdentityDays), d(c.Privacy.RetentionEvidenceDays), d(c.Privacy.RetentionStatisticsDays)
}
