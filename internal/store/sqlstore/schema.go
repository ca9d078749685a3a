package sqlstore

// Dialect is what differs between the databases behind the same SQL.
type Dialect struct {
	Name        string // "sqlite" or "postgres".
	Blob        string // Column type for bytes.
	Numbered    bool   // Placeholders are $1, $2… (else ?).
	ForUpdate   string // Row-locking clause for the custody head.
	Concurrency int    // Connections for readers.
}

var (
	SQLite   = Dialect{Name: "sqlite", Blob: "BLOB", Numbered: false, ForUpdate: "", Concurrency: 4}
	Postgres = Dialect{Name: "postgres", Blob: "BYTEA", Numbered: true, ForUpdate: " FOR UPDATE", Concurrency: 8}
)

// migrations are applied in order; each runs once, in a transaction, and
// is recorded in schema_version. Never edit one that shipped: add another.
func migrations(d Dialect) []string {
	return []string{
		// 1: the complaint desk.
		`CREATE TABLE reporters (
			id TEXT PRIMARY KEY,
			address TEXT NOT NULL,
			first_seen BIGINT NOT NULL
		);
		CREATE TABLE complaints (
			id TEXT PRIMARY KEY,
			received_at BIGINT NOT NULL,
			channel TEXT NOT NULL,
			sha256 TEXT NOT NULL,
			reporter_id TEXT NOT NULL,
			raw ` + d.Blob + ` NOT NULL
		);
		CREATE TABLE campaigns (
			id TEXT PRIMARY KEY,
			created_at BIGINT NOT NULL,
			founder TEXT NOT NULL,
			subject TEXT NOT NULL,
			signature TEXT NOT NULL
		);
		CREATE TABLE campaign_bands (
			band BIGINT NOT NULL,
			campaign_id TEXT NOT NULL,
			PRIMARY KEY (band, campaign_id)
		);
		CREATE TABLE campaign_domains (
			domain TEXT NOT NULL,
			campaign_id TEXT NOT NULL,
			PRIMARY KEY (domain, campaign_id)
		);
		CREATE TABLE reports (
			id TEXT PRIMARY KEY,
			complaint_id TEXT NOT NULL,
			received_at BIGINT NOT NULL,
			channel TEXT NOT NULL,
			form TEXT NOT NULL,
			unverifiable TEXT NOT NULL,
			feedback TEXT NOT NULL,
			sha256 TEXT NOT NULL,
			raw ` + d.Blob + ` NOT NULL,
			reporter_id TEXT NOT NULL,
			submitted_by TEXT NOT NULL,
			consent TEXT NOT NULL,
			customer TEXT NOT NULL,
			status_hash TEXT NOT NULL,
			verdict TEXT NOT NULL,
			signature TEXT NOT NULL,
			campaign_id TEXT NOT NULL,
			campaign_why TEXT NOT NULL,
			subject TEXT NOT NULL,
			from_domain TEXT NOT NULL,
			origin_ip TEXT NOT NULL,
			country TEXT NOT NULL,
			asn BIGINT NOT NULL,
			network TEXT NOT NULL,
			spam_score DOUBLE PRECISION NOT NULL
		);
		CREATE INDEX reports_campaign ON reports (campaign_id, received_at);
		CREATE INDEX reports_received ON reports (received_at);
		CREATE INDEX reports_submitter ON reports (submitted_by, received_at);
		CREATE TABLE report_domains (
			report_id TEXT NOT NULL,
			domain TEXT NOT NULL
		);
		CREATE INDEX report_domains_report ON report_domains (report_id);
		CREATE TABLE report_findings (
			report_id TEXT NOT NULL,
			code TEXT NOT NULL
		);
		CREATE INDEX report_findings_report ON report_findings (report_id);
		CREATE TABLE custody (
			seq BIGINT PRIMARY KEY,
			report_id TEXT NOT NULL,
			at BIGINT NOT NULL,
			actor TEXT NOT NULL,
			action TEXT NOT NULL,
			detail TEXT NOT NULL,
			prev_hash TEXT NOT NULL,
			hash TEXT NOT NULL
		);
		CREATE INDEX custody_report ON custody (report_id, seq);
		CREATE TABLE custody_head (
			id INTEGER PRIMARY KEY,
			seq BIGINT NOT NULL,
			hash TEXT NOT NULL
		);
		INSERT INTO custody_head (id, seq, hash) VALUES (1, 0, '');
		CREATE TABLE tokens (
			id TEXT PRIMARY KEY,
			hash TEXT NOT NULL UNIQUE,
			role TEXT NOT NULL,
			label TEXT NOT NULL,
			created_at BIGINT NOT NULL
		);
		CREATE TABLE users (
			name TEXT PRIMARY KEY,
			password_hash TEXT NOT NULL,
			role TEXT NOT NULL,
			created_at BIGINT NOT NULL
		);
		CREATE TABLE sessions (
			hash TEXT PRIMARY KEY,
			user_name TEXT NOT NULL,
			csrf TEXT NOT NULL,
			expires_at BIGINT NOT NULL
		);`,
	}
}
