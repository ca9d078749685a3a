package sqlstore

// Dialect is what differs between the databases behind the same SQL.
type Dialect struct {
	Name        string // "sqlite" or "postgres".
	Blob        string // Column type for bytes.
	Numbered    bool   // Placeholders are $1, $2… (else ?).
	ForUpdate   string // Row-locking clause for the custody head.
	Concurrency int    // Connections for readers.
	AutoID      string // An auto-incrementing integer primary key.
	SkipLocked  string // Row-locking clause that passes over rows another transaction holds (queues).
}

var (
	SQLite   = Dialect{Name: "sqlite", Blob: "BLOB", Numbered: false, ForUpdate: "", Concurrency: 4, AutoID: "INTEGER PRIMARY KEY AUTOINCREMENT", SkipLocked: ""}
	Postgres = Dialect{Name: "postgres", Blob: "BYTEA", Numbered: true, ForUpdate: " FOR UPDATE", Concurrency: 8, AutoID: "BIGSERIAL PRIMARY KEY", SkipLocked: " FOR UPDATE SKIP LOCKED"}
)

// LatestVersion is the schema version this build migrates to.
func LatestVersion() int { return len(migrations(SQLite)) }

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
		// 2: federation — peers, agreements, links, custody logs, assistance.
		`CREATE TABLE fed_peers (
			name TEXT PRIMARY KEY,
			url TEXT NOT NULL,
			jurisdiction TEXT NOT NULL,
			status TEXT NOT NULL,
			added BIGINT NOT NULL,
			agreement_version BIGINT NOT NULL,
			agreement TEXT NOT NULL
		);
		CREATE TABLE fed_peer_keys (
			peer TEXT NOT NULL,
			pubkey TEXT NOT NULL,
			status TEXT NOT NULL,
			added BIGINT NOT NULL,
			changed BIGINT NOT NULL,
			PRIMARY KEY (peer, pubkey)
		);
		CREATE UNIQUE INDEX fed_peer_keys_key ON fed_peer_keys (pubkey);
		CREATE TABLE fed_agreements (
			peer TEXT NOT NULL,
			version BIGINT NOT NULL,
			at BIGINT NOT NULL,
			raw TEXT NOT NULL,
			PRIMARY KEY (peer, version)
		);
		CREATE TABLE fed_own_keys (
			pubkey TEXT PRIMARY KEY,
			added BIGINT NOT NULL,
			retired BIGINT NOT NULL
		);
		CREATE TABLE fed_links (
			peer TEXT PRIMARY KEY,
			out_seq BIGINT NOT NULL,
			in_seq BIGINT NOT NULL
		);
		CREATE TABLE fed_sent (
			peer TEXT NOT NULL,
			item_key TEXT NOT NULL,
			hash TEXT NOT NULL,
			seq BIGINT NOT NULL,
			PRIMARY KEY (peer, item_key)
		);
		CREATE TABLE fed_pending (
			peer TEXT PRIMARY KEY,
			seq BIGINT NOT NULL,
			payload ` + d.Blob + ` NOT NULL,
			delivery TEXT NOT NULL
		);
		CREATE TABLE fed_log (
			peer TEXT NOT NULL,
			dir TEXT NOT NULL,
			idx BIGINT NOT NULL,
			seq BIGINT NOT NULL,
			what TEXT NOT NULL,
			item_key TEXT NOT NULL,
			hash TEXT NOT NULL,
			at BIGINT NOT NULL,
			leaf ` + d.Blob + ` NOT NULL,
			PRIMARY KEY (peer, dir, idx)
		);
		CREATE TABLE fed_checkpoints (
			peer TEXT NOT NULL,
			dir TEXT NOT NULL,
			seq BIGINT NOT NULL,
			body TEXT NOT NULL,
			payload_hash TEXT NOT NULL,
			PRIMARY KEY (peer, dir, seq)
		);
		CREATE TABLE fed_received (
			peer TEXT NOT NULL,
			item_key TEXT NOT NULL,
			kind TEXT NOT NULL,
			item TEXT NOT NULL,
			package TEXT NOT NULL,
			root TEXT NOT NULL,
			signature TEXT NOT NULL,
			signed_at BIGINT NOT NULL,
			seq BIGINT NOT NULL,
			received_at BIGINT NOT NULL,
			PRIMARY KEY (peer, item_key)
		);
		CREATE TABLE fed_outbox (
			id ` + d.AutoID + `,
			peer TEXT NOT NULL,
			msg TEXT NOT NULL
		);
		CREATE TABLE fed_requests (
			id TEXT PRIMARY KEY,
			peer TEXT NOT NULL,
			role TEXT NOT NULL,
			type TEXT NOT NULL,
			subject TEXT NOT NULL,
			body TEXT NOT NULL,
			campaign TEXT NOT NULL,
			legal_basis TEXT NOT NULL,
			created BIGINT NOT NULL,
			deadline BIGINT NOT NULL,
			state TEXT NOT NULL,
			updated BIGINT NOT NULL
		);
		CREATE TABLE fed_request_events (
			request TEXT NOT NULL,
			n BIGINT NOT NULL,
			at BIGINT NOT NULL,
			action TEXT NOT NULL,
			state TEXT NOT NULL,
			by_whom TEXT NOT NULL,
			note TEXT NOT NULL,
			PRIMARY KEY (request, n)
		);`,
		// 3: the terms received items came under, and their retention.
		`ALTER TABLE fed_received ADD COLUMN terms TEXT NOT NULL DEFAULT '{}';
		ALTER TABLE fed_received ADD COLUMN expires_at BIGINT NOT NULL DEFAULT 0`,
		// 4: legitimate senders: consent records, their hash-chained log,
		// suppressions, campaigns and the complaints fed back.
		`CREATE TABLE consent_senders (
			id TEXT PRIMARY KEY,
			name TEXT NOT NULL,
			contact TEXT NOT NULL,
			feedback_to TEXT NOT NULL,
			postal_address TEXT NOT NULL,
			jurisdictions TEXT NOT NULL,
			status TEXT NOT NULL,
			reason TEXT NOT NULL,
			created BIGINT NOT NULL,
			changed BIGINT NOT NULL,
			log_seq BIGINT NOT NULL,
			log_hash TEXT NOT NULL,
			sup_seq BIGINT NOT NULL
		);
		CREATE TABLE consent_sender_domains (
			domain TEXT PRIMARY KEY,
			sender TEXT NOT NULL
		);
		CREATE TABLE consent_recipients (
			id ` + d.AutoID + `,
			sender TEXT NOT NULL,
			hash TEXT NOT NULL
		);
		CREATE UNIQUE INDEX consent_recipients_key ON consent_recipients (sender, hash);
		CREATE TABLE consent_lists (
			id ` + d.AutoID + `,
			sender TEXT NOT NULL,
			name TEXT NOT NULL
		);
		CREATE UNIQUE INDEX consent_lists_key ON consent_lists (sender, name);
		CREATE TABLE consent_campaigns (
			id ` + d.AutoID + `,
			sender TEXT NOT NULL,
			list TEXT NOT NULL,
			name TEXT NOT NULL,
			issued BIGINT NOT NULL,
			reported BIGINT NOT NULL,
			complaints BIGINT NOT NULL,
			created BIGINT NOT NULL
		);
		CREATE UNIQUE INDEX consent_campaigns_key ON consent_campaigns (sender, list, name);
		CREATE TABLE consent_records (
			id TEXT PRIMARY KEY,
			sender TEXT NOT NULL,
			recipient TEXT NOT NULL,
			list TEXT NOT NULL,
			basis TEXT NOT NULL,
			status TEXT NOT NULL,
			confirmed BIGINT NOT NULL,
			capture TEXT NOT NULL,
			customer TEXT NOT NULL,
			created BIGINT NOT NULL,
			confirmed_at BIGINT NOT NULL,
			withdrawn_at BIGINT NOT NULL
		);
		CREATE INDEX consent_records_recipient ON consent_records (sender, recipient);
		CREATE TABLE consent_events (
			sender TEXT NOT NULL,
			seq BIGINT NOT NULL,
			at BIGINT NOT NULL,
			kind TEXT NOT NULL,
			recipient TEXT NOT NULL,
			list TEXT NOT NULL,
			record TEXT NOT NULL,
			detail TEXT NOT NULL,
			prev_hash TEXT NOT NULL,
			hash TEXT NOT NULL,
			PRIMARY KEY (sender, seq)
		);
		CREATE INDEX consent_events_recipient ON consent_events (sender, recipient, seq);
		CREATE TABLE consent_suppressions (
			sender TEXT NOT NULL,
			recipient TEXT NOT NULL,
			list TEXT NOT NULL,
			seq BIGINT NOT NULL,
			reason TEXT NOT NULL,
			requested_at BIGINT NOT NULL,
			deadline BIGINT NOT NULL,
			jurisdiction TEXT NOT NULL,
			synced_at BIGINT NOT NULL,
			lifted BIGINT NOT NULL,
			lifted_at BIGINT NOT NULL,
			changed_at BIGINT NOT NULL,
			PRIMARY KEY (sender, recipient, list)
		);
		CREATE INDEX consent_suppressions_feed ON consent_suppressions (sender, seq);
		CREATE INDEX consent_suppressions_due ON consent_suppressions (synced_at, deadline);
		CREATE TABLE consent_complaints (
			report_id TEXT NOT NULL,
			sender TEXT NOT NULL,
			at BIGINT NOT NULL,
			recipient TEXT NOT NULL,
			list TEXT NOT NULL,
			campaign TEXT NOT NULL,
			how TEXT NOT NULL,
			consent_on_record BIGINT NOT NULL,
			consent_record TEXT NOT NULL,
			after_opt_out BIGINT NOT NULL,
			forwarded TEXT NOT NULL,
			PRIMARY KEY (report_id, sender)
		);
		CREATE INDEX consent_complaints_sender ON consent_complaints (sender, at)`,
		// 5: compliance labels the node issued, and their revocations.
		`CREATE TABLE labels (
			id TEXT PRIMARY KEY,
			sender TEXT NOT NULL,
			domain TEXT NOT NULL,
			body_hash TEXT NOT NULL,
			issued BIGINT NOT NULL,
			expires BIGINT NOT NULL,
			revoked_at BIGINT NOT NULL,
			reason TEXT NOT NULL
		);
		CREATE INDEX labels_sender ON labels (sender, issued);
		CREATE INDEX labels_revoked ON labels (revoked_at, expires);
		CREATE TABLE label_sender_revocations (
			sender TEXT NOT NULL,
			at BIGINT NOT NULL,
			reason TEXT NOT NULL,
			PRIMARY KEY (sender, at)
		)`,
		// 6: the node's outbound mail queue, and the bounces that came back.
		`CREATE TABLE outbound_mail (
			id TEXT PRIMARY KEY,
			kind TEXT NOT NULL,
			ref TEXT NOT NULL,
			to_addr TEXT NOT NULL,
			from_addr TEXT NOT NULL,
			message_id TEXT NOT NULL,
			raw ` + d.Blob + ` NOT NULL,
			state TEXT NOT NULL,
			attempts BIGINT NOT NULL,
			created_at BIGINT NOT NULL,
			next_at BIGINT NOT NULL,
			updated_at BIGINT NOT NULL,
			last_error TEXT NOT NULL,
			lease_owner TEXT NOT NULL,
			lease_until BIGINT NOT NULL
		);
		CREATE INDEX outbound_mail_due ON outbound_mail (state, next_at);
		CREATE INDEX outbound_mail_to ON outbound_mail (to_addr, created_at);
		CREATE TABLE outbound_bounces (
			id TEXT PRIMARY KEY,
			mail_id TEXT NOT NULL,
			kind TEXT NOT NULL,
			action TEXT NOT NULL,
			status TEXT NOT NULL,
			recipient TEXT NOT NULL,
			diagnostic TEXT NOT NULL,
			reporting_mta TEXT NOT NULL,
			from_field TEXT NOT NULL,
			subject TEXT NOT NULL,
			sha256 TEXT NOT NULL,
			received_at BIGINT NOT NULL
		);
		CREATE UNIQUE INDEX outbound_bounces_once ON outbound_bounces (mail_id, sha256);
		CREATE INDEX outbound_bounces_mail ON outbound_bounces (mail_id, received_at)`,
		// 7: revoked tokens, disabled accounts, the audit log.
		`ALTER TABLE tokens ADD COLUMN revoked_at BIGINT NOT NULL DEFAULT 0;
		ALTER TABLE tokens ADD COLUMN last_used_at BIGINT NOT NULL DEFAULT 0;
		ALTER TABLE users ADD COLUMN disabled_at BIGINT NOT NULL DEFAULT 0;
		CREATE TABLE audit_log (
			seq ` + d.AutoID + `,
			at BIGINT NOT NULL,
			actor TEXT NOT NULL,
			action TEXT NOT NULL,
			target TEXT NOT NULL,
			ip TEXT NOT NULL,
			detail TEXT NOT NULL
		);
		CREATE INDEX audit_log_at ON audit_log (at)`,
		// 8: how far complaints were fed back to senders (a custody seq).
		`CREATE TABLE feedback_cursor (
			id INTEGER PRIMARY KEY,
			seq BIGINT NOT NULL
		)`,
		// 9: the filter for mail providers — policies, the quarantine,
		// learned features and shared model snapshots (its audit entries go
		// to the node's audit log).
		`CREATE TABLE filter_policies (
			kind TEXT NOT NULL,
			scope_key TEXT NOT NULL,
			body TEXT NOT NULL,
			updated_at BIGINT NOT NULL,
			updated_by TEXT NOT NULL,
			PRIMARY KEY (kind, scope_key)
		);
		CREATE TABLE filter_held (
			id TEXT PRIMARY KEY,
			recipient TEXT NOT NULL,
			mail_from TEXT NOT NULL,
			from_addr TEXT NOT NULL,
			subject TEXT NOT NULL,
			received_at BIGINT NOT NULL,
			expires_at BIGINT NOT NULL,
			score DOUBLE PRECISION NOT NULL,
			symbols TEXT NOT NULL,
			reference TEXT NOT NULL,
			size BIGINT NOT NULL,
			raw ` + d.Blob + ` NOT NULL,
			state TEXT NOT NULL,
			acted_at BIGINT NOT NULL,
			acted_by TEXT NOT NULL
		);
		CREATE INDEX filter_held_recipient ON filter_held (recipient, received_at);
		CREATE INDEX filter_held_expiry ON filter_held (expires_at);
		CREATE TABLE filter_learned (
			seq ` + d.AutoID + `,
			digest TEXT NOT NULL,
			spam BIGINT NOT NULL,
			at BIGINT NOT NULL,
			source TEXT NOT NULL,
			model_id TEXT NOT NULL,
			sample ` + d.Blob + `
		);
		CREATE INDEX filter_learned_at ON filter_learned (at);
		CREATE TABLE filter_snapshots (
			version BIGINT PRIMARY KEY,
			at BIGINT NOT NULL,
			model ` + d.Blob + ` NOT NULL
		)`,
		// 10: cases (a campaign worked by the desk) and the indexes the
		// desk's filters use.
		`CREATE TABLE cases (
			campaign_id TEXT PRIMARY KEY,
			status TEXT NOT NULL,
			assignee TEXT NOT NULL,
			opened_at BIGINT NOT NULL,
			updated_at BIGINT NOT NULL,
			closed_at BIGINT NOT NULL,
			version BIGINT NOT NULL
		);
		CREATE INDEX cases_status ON cases (status);
		CREATE INDEX cases_closed ON cases (closed_at);
		CREATE TABLE case_events (
			campaign_id TEXT NOT NULL,
			n BIGINT NOT NULL,
			at BIGINT NOT NULL,
			actor TEXT NOT NULL,
			kind TEXT NOT NULL,
			status TEXT NOT NULL,
			text TEXT NOT NULL,
			ref TEXT NOT NULL,
			PRIMARY KEY (campaign_id, n)
		);
		CREATE INDEX reports_country ON reports (country, received_at);
		CREATE INDEX reports_from_domain ON reports (from_domain, received_at);
		CREATE INDEX reports_asn ON reports (asn, received_at);
		CREATE INDEX report_domains_domain ON report_domains (domain);
		CREATE INDEX report_findings_code ON report_findings (code)`,
		// 11: retention and erasure: when a complaint's bytes and reporter,
		// a report's message and analysis were deleted, and by whom.
		`ALTER TABLE complaints ADD COLUMN purged_at BIGINT NOT NULL DEFAULT 0;
		ALTER TABLE reports ADD COLUMN purged_at BIGINT NOT NULL DEFAULT 0;
		ALTER TABLE reports ADD COLUMN erased_at BIGINT NOT NULL DEFAULT 0;
		CREATE INDEX complaints_received ON complaints (purged_at, received_at);
		CREATE INDEX reports_purge ON reports (purged_at, received_at)`,
		// 12: federation — withdrawn and purged received items (tombstones
		// keep key and hash), and TAXII reads waiting to enter the custody
		// log of their link.
		`ALTER TABLE fed_received ADD COLUMN withdrawn_at BIGINT NOT NULL DEFAULT 0;
		ALTER TABLE fed_received ADD COLUMN withdrawn_why TEXT NOT NULL DEFAULT '';
		ALTER TABLE fed_received ADD COLUMN purged_at BIGINT NOT NULL DEFAULT 0;
		CREATE TABLE fed_reads (
			id ` + d.AutoID + `,
			peer TEXT NOT NULL,
			at BIGINT NOT NULL,
			request TEXT NOT NULL,
			objects BIGINT NOT NULL,
			hash TEXT NOT NULL,
			logged_seq BIGINT NOT NULL
		);
		CREATE INDEX fed_reads_peer ON fed_reads (peer, logged_seq, id)`,
		// 13: federation — the node's stable identity and each peer's
		// collection id (no key rotation changes them); when each peer key
		// was retired and revoked; when each checkpoint was stored; the
		// published TAXII objects, their versions, and each collection's
		// added-log.
		`CREATE TABLE fed_node (
			id TEXT PRIMARY KEY,
			created BIGINT NOT NULL
		);
		ALTER TABLE fed_peers ADD COLUMN collection TEXT NOT NULL DEFAULT '';
		ALTER TABLE fed_peer_keys ADD COLUMN retired_at BIGINT NOT NULL DEFAULT 0;
		ALTER TABLE fed_peer_keys ADD COLUMN revoked_at BIGINT NOT NULL DEFAULT 0;
		UPDATE fed_peer_keys SET retired_at = changed WHERE status = 'retired';
		UPDATE fed_peer_keys SET revoked_at = changed WHERE status = 'revoked';
		ALTER TABLE fed_checkpoints ADD COLUMN recorded_at BIGINT NOT NULL DEFAULT 0;
		CREATE TABLE fed_feed_objects (
			id TEXT PRIMARY KEY,
			item_key TEXT NOT NULL,
			slot TEXT NOT NULL,
			created BIGINT NOT NULL,
			modified BIGINT NOT NULL,
			hash TEXT NOT NULL
		);
		CREATE UNIQUE INDEX fed_feed_objects_slot ON fed_feed_objects (item_key, slot);
		CREATE TABLE fed_feed_versions (
			id TEXT NOT NULL,
			version BIGINT NOT NULL,
			body TEXT NOT NULL,
			PRIMARY KEY (id, version)
		);
		CREATE TABLE fed_feed_log (
			peer TEXT NOT NULL,
			added BIGINT NOT NULL,
			id TEXT NOT NULL,
			type TEXT NOT NULL,
			version BIGINT NOT NULL,
			removed BIGINT NOT NULL,
			current BIGINT NOT NULL,
			PRIMARY KEY (peer, added)
		);
		CREATE INDEX fed_feed_log_current ON fed_feed_log (peer, current, added);
		CREATE INDEX fed_feed_log_id ON fed_feed_log (peer, id, added)`,
		// 14: senders — how the complaint's own sender was authenticated
		// (only an authenticated reporter names the complainant); a
		// complaint's message key (one message counts once), the token's
		// recipient when it is not the complainant's, and flags for the
		// authority; confirmation mail counted by time.
		`ALTER TABLE reports ADD COLUMN reporter_auth TEXT NOT NULL DEFAULT '';
		ALTER TABLE consent_complaints ADD COLUMN message_key TEXT NOT NULL DEFAULT '';
		ALTER TABLE consent_complaints ADD COLUMN token_recipient TEXT NOT NULL DEFAULT '';
		ALTER TABLE consent_complaints ADD COLUMN flags TEXT NOT NULL DEFAULT '';
		CREATE INDEX consent_complaints_message ON consent_complaints (sender, message_key);
		CREATE INDEX consent_events_kind ON consent_events (sender, kind, at);
		CREATE INDEX consent_events_recipient_kind ON consent_events (sender, recipient, kind, at)`,
		// 15: the quarantine keeps a message's bytes once, however many
		// recipients hold it (by their SHA-256); rows of older versions
		// keep theirs in filter_held.raw.
		`CREATE TABLE filter_held_raw (
			sha256 TEXT PRIMARY KEY,
			raw ` + d.Blob + ` NOT NULL,
			size BIGINT NOT NULL
		);
		ALTER TABLE filter_held ADD COLUMN raw_sha256 TEXT NOT NULL DEFAULT '';
		CREATE INDEX filter_held_raw_ref ON filter_held (raw_sha256);
		CREATE INDEX filter_held_usage ON filter_held (recipient, state)`,
		// 16: when a peer's status was last set, and the newest terms a
		// peer's envelopes came under (older versions are refused).
		`ALTER TABLE fed_peers ADD COLUMN status_at BIGINT NOT NULL DEFAULT 0;
		ALTER TABLE fed_links ADD COLUMN in_agreement TEXT NOT NULL DEFAULT '';
		ALTER TABLE fed_links ADD COLUMN in_version BIGINT NOT NULL DEFAULT 0`,
		// 17: outbound mail keeps the mailbox its recipient reaches
		// (sub-address and spelling folded) and its domain: confirmation
		// mail is bounded per mailbox and per domain, whichever sender
		// asked.
		`ALTER TABLE outbound_mail ADD COLUMN mailbox TEXT NOT NULL DEFAULT '';
		ALTER TABLE outbound_mail ADD COLUMN to_domain TEXT NOT NULL DEFAULT '';
		CREATE INDEX outbound_mail_mailbox ON outbound_mail (kind, mailbox, created_at);
		CREATE INDEX outbound_mail_domain ON outbound_mail (kind, to_domain, created_at)`,
		// 18: a pending envelope the peer did not get is set aside, never
		// re-sealed under its sequence (out_void: the highest set aside;
		// fed_abandoned keeps it in case the peer turns out to hold it),
		// and the peer, told so, refuses it from then on (in_void).
		`ALTER TABLE fed_links ADD COLUMN out_void BIGINT NOT NULL DEFAULT 0;
		ALTER TABLE fed_links ADD COLUMN in_void BIGINT NOT NULL DEFAULT 0;
		CREATE TABLE fed_abandoned (
			peer TEXT NOT NULL,
			seq BIGINT NOT NULL,
			payload ` + d.Blob + ` NOT NULL,
			delivery TEXT NOT NULL,
			at BIGINT NOT NULL,
			confirmed BIGINT NOT NULL,
			PRIMARY KEY (peer, seq)
		)`,
		// 19: a campaign notes the custody head its founding commit
		// chained after (plus one): a commit that assigned campaigns on a
		// snapshot taken at head S, before locking the head, finds the
		// campaigns founded since (founded_seq > S) that share one of its
		// keys, and starts again (PostgreSQL: campaigns_founded_since
		// raises SQLSTATE AC001).
		`ALTER TABLE campaigns ADD COLUMN founded_seq BIGINT NOT NULL DEFAULT 0;
		CREATE INDEX campaigns_founded ON campaigns (founded_seq)` + foundedSince(d),
		// 20: token buckets every instance on one database counts
		// together (sign-in throttling): tokens left at last, in
		// nanoseconds, the bucket's size and refill rate per nanosecond,
		// and whether the last take was allowed.
		`CREATE TABLE throttle (
			bucket TEXT PRIMARY KEY,
			tokens DOUBLE PRECISION NOT NULL,
			last BIGINT NOT NULL,
			burst DOUBLE PRECISION NOT NULL,
			rate DOUBLE PRECISION NOT NULL,
			ok BIGINT NOT NULL
		);
		CREATE INDEX throttle_last ON throttle (last)`,
		// 21: values every instance of the node must share and cannot
		// see in each other's data folders (the DKIM public key they sign
		// the node's mail with), pinned by the first instance to start.
		`CREATE TABLE node_pins (
			name TEXT PRIMARY KEY,
			value TEXT NOT NULL,
			set_at BIGINT NOT NULL
		)`,
		// 22: where a received item sits in its signed package (the
		// package's size, the item's index and inclusion proof, JSON):
		// with the package's id, root, time and signature, custody
		// verify proves the sender signed the item as held.
		`ALTER TABLE fed_received ADD COLUMN proof TEXT NOT NULL DEFAULT ''`,
		// 23: leases: which instance runs a loop that one instance at a
		// time runs for all (the feedback loop), until when.
		`CREATE TABLE leases (
			name TEXT PRIMARY KEY,
			holder TEXT NOT NULL,
			expires_at BIGINT NOT NULL
		)`,
		// 24: PostgreSQL: the check of migration 19 returns at once when
		// no commit moved the head since the snapshot (no campaign can
		// have been founded), and otherwise looks, for each campaign
		// founded since, whether it has one of the keys — index lookups
		// however the planner sees the tables (it planned the old form,
		// before the tables had statistics, as a scan of every band).
		foundedSinceByIndex(d),
		// 25: each step of a mutual assistance request keeps the message
		// it went or came as (JSON), whose hash the link's custody log
		// holds: custody verify checks the request and its history
		// against it. Steps stored before keep none ('').
		`ALTER TABLE fed_request_events ADD COLUMN msg TEXT NOT NULL DEFAULT ''`,
		// 26: PostgreSQL: the check of migration 24 taking the custody
		// head's lock first, so a commit locks and checks in one
		// statement.
		foundedSinceLocked(d),
		// 27: a message is stored once. When a complaint is the reported
		// message itself (a raw upload, the common case), its bytes are
		// its report's: the complaint keeps none (raw empty) and names
		// that report in raw_report; '' means its own raw. Reading a
		// complaint takes its report's bytes (complaintRaw); dropping a
		// report's message first gives the complaint back its own copy
		// if it still needs one. Complaints stored before are converted
		// where a report of theirs holds exactly their bytes.
		`ALTER TABLE complaints ADD COLUMN raw_report TEXT NOT NULL DEFAULT '';
		UPDATE complaints SET raw_report = m.rid, raw = CAST('' AS ` + d.Blob + `)
		FROM (SELECT r.complaint_id AS cid, MIN(r.id) AS rid FROM reports r JOIN complaints c ON c.id = r.complaint_id
			WHERE c.purged_at = 0 AND r.purged_at = 0 AND LENGTH(c.raw) > 0 AND r.raw = c.raw GROUP BY r.complaint_id) AS m
		WHERE complaints.id = m.cid`,
		// 28: the From fields of the forwards the desk unwrapped inside a
		// complaint to reach its report's message (intake.Report.Forwarders,
		// JSON): people cut from all that is shared, dropped with the
		// message. Reports stored before have none ('[]').
		`ALTER TABLE reports ADD COLUMN forwarders TEXT NOT NULL DEFAULT '[]'`,
		// 29: a complaint's acknowledgement is found by its ref, to be
		// deleted with the reporter's identity (erasure, retention).
		`CREATE INDEX outbound_mail_ref ON outbound_mail (ref)`,
		// 30: a TAXII page leaves out the objects gone from the collection
		// (their current entry removes them) by reading that set once,
		// through this index, instead of scanning every current entry of
		// the collection once per object served. Partial: no other query
		// can be planned on it by mistake.
		`CREATE INDEX fed_feed_log_gone ON fed_feed_log (peer, id) WHERE current = 1 AND removed = 1`,
		// 31: idempotency keys of API submissions (Idempotency-Key),
		// written in the commit that stores their complaint: lookup is a
		// hash of the principal and the key (unique, so a second commit
		// of the same key fails whole), request a hash of the request,
		// sealed the first answer encrypted under a key derived from the
		// client's key (intake.Idempotency).
		`CREATE TABLE idempotency (
			lookup TEXT PRIMARY KEY,
			request TEXT NOT NULL,
			complaint_id TEXT NOT NULL,
			sealed ` + d.Blob + ` NOT NULL,
			created_at BIGINT NOT NULL
		);
		CREATE INDEX idempotency_complaint ON idempotency (complaint_id)`,
		// 32: campaigns are the connected components of sharing a
		// grouping key (campaign.Signature.Keys), whatever the order
		// reports arrive in. Each key belongs to one campaign
		// (campaign_keys; seq: the custody head its commit chained
		// after, plus one, as founded_seq); a report whose keys several
		// campaigns own merges them into the oldest: the merged one
		// points at it (merged_into) and the merge is recorded
		// (campaign_merges, and the custody log). The founder-based
		// candidate tables go. Existing databases are regrouped by the
		// new rule when the store opens (campaign_regroup: pending).
		`CREATE TABLE campaign_keys (
			hash BIGINT PRIMARY KEY,
			campaign_id TEXT NOT NULL,
			seq BIGINT NOT NULL
		);
		CREATE INDEX campaign_keys_campaign ON campaign_keys (campaign_id);
		ALTER TABLE campaigns ADD COLUMN merged_into TEXT NOT NULL DEFAULT '';
		CREATE TABLE campaign_merges (
			campaign_id TEXT PRIMARY KEY,
			into_id TEXT NOT NULL,
			at BIGINT NOT NULL,
			report_id TEXT NOT NULL,
			reason TEXT NOT NULL
		);
		CREATE INDEX campaign_merges_into ON campaign_merges (into_id);
		CREATE TABLE campaign_regroup (pending BIGINT NOT NULL);
		INSERT INTO campaign_regroup (pending) SELECT 1 FROM custody_head WHERE id = 1 AND EXISTS (SELECT 1 FROM reports);
		DROP TABLE campaign_bands;
		DROP TABLE campaign_domains` + keysSince(d),
		// 33: merges a report proposed but intake did not make, because
		// one of the campaigns is sealed (a person worked on it: its case
		// has an event): campaign_id is the sealed campaign, other_id the
		// one the report joined (as it then was), reason why. Shown with
		// the case; an analyst merges on purpose (MergeCampaigns). Merged
		// campaigns are found by founder (retention blanks their subject
		// and signature with the founder's message) and by survivor
		// (deleted with it).
		`CREATE TABLE campaign_links (
			campaign_id TEXT NOT NULL,
			other_id TEXT NOT NULL,
			report_id TEXT NOT NULL,
			at BIGINT NOT NULL,
			reason TEXT NOT NULL
		);
		CREATE INDEX campaign_links_campaign ON campaign_links (campaign_id);
		CREATE INDEX campaign_links_other ON campaign_links (other_id);
		CREATE INDEX campaigns_merged_founder ON campaigns (founder) WHERE merged_into <> '';
		CREATE INDEX campaigns_merged_into ON campaigns (merged_into) WHERE merged_into <> ''`,
		// 34: on PostgreSQL, the check a commit makes under the custody
		// head before it merges campaigns it grouped on a snapshot: that
		// none of them was sealed since (unsealedLocked).
		unsealedLocked(d),
		// 35: TAXII revocation. An object that leaves a collection enters
		// it once more as a revoked version (log revoked = 1), and each
		// object keeps the latest version time given to a revoked version
		// of it, after which every later version must come. A page reads
		// the set of revoked objects once, through an index of its own
		// (as 30 does for the objects gone).
		`ALTER TABLE fed_feed_log ADD COLUMN revoked BIGINT NOT NULL DEFAULT 0;
		ALTER TABLE fed_feed_objects ADD COLUMN revoked BIGINT NOT NULL DEFAULT 0;
		CREATE INDEX fed_feed_log_revoked ON fed_feed_log (peer, id) WHERE current = 1 AND revoked = 1`,
		// 36: domains the node's analyst marked as not the spammer's (a
		// firm a phish wears): nothing shared accuses them
		// (federation.Withheld). The reason stays at the node.
		`CREATE TABLE fed_withheld (
			domain TEXT PRIMARY KEY,
			reason TEXT NOT NULL,
			marked_by TEXT NOT NULL,
			marked_at BIGINT NOT NULL
		)`,
		// 37: on PostgreSQL, the check a commit that merges campaigns
		// makes under the custody head: that the campaigns have the sizes
		// it chose the survivors by (sizesLocked).
		sizesLocked(d),
		// 38: the recipients counted in a consent campaign, so one
		// recipient counts once per campaign however many links are made
		// for them (consent.Service.Links). Campaigns counted before keep
		// their counts.
		`CREATE TABLE consent_campaign_recipients (
			campaign BIGINT NOT NULL,
			recipient BIGINT NOT NULL,
			PRIMARY KEY (campaign, recipient)
		)`,
		// 39: a consent recipient's folded mailbox (its keyed hash), so an
		// opt-out made by token under one spelling of a mailbox is found
		// from the others (consent.Service.Suppressions). Rows from before
		// have none: they are found by their own key only.
		`ALTER TABLE consent_recipients ADD COLUMN mailbox TEXT NOT NULL DEFAULT '';
		CREATE INDEX consent_recipients_mailbox ON consent_recipients (sender, mailbox)`,
		// 40: the registered sender a queued confirmation is for, so the
		// bounds on confirmation mail give each sender its share of a
		// mailbox's and a domain's (outbound.Queue.boundConfirm).
		`ALTER TABLE outbound_mail ADD COLUMN sender TEXT NOT NULL DEFAULT ''`,
		// 41: the pending consent records, by age, for serve's periodic
		// sweep of those past their confirmation link's life
		// (consent.Service.ExpirePending).
		`CREATE INDEX consent_records_pending ON consent_records (created) WHERE status = 'pending'`,
		// 42: when a quarantine digest listed a held message (0: none
		// yet), so a message is announced once across restarts and
		// instances (filter.Store.AnnounceHeld). Messages held before
		// count as announced: the digests of the build before listed
		// them, and listing a month of them again would bury the new.
		`ALTER TABLE filter_held ADD COLUMN announced_at BIGINT NOT NULL DEFAULT 0;
		UPDATE filter_held SET announced_at = received_at;
		CREATE INDEX filter_held_unannounced ON filter_held (announced_at, state)`,
		// 43: the SMTP client of a held message as the door's session
		// knew it (filter.Session): address, HELO, the MTA's reverse name
		// or its word that it found none (client_no_rdns 1).
		`ALTER TABLE filter_held ADD COLUMN client_ip TEXT NOT NULL DEFAULT '';
		ALTER TABLE filter_held ADD COLUMN client_helo TEXT NOT NULL DEFAULT '';
		ALTER TABLE filter_held ADD COLUMN client_name TEXT NOT NULL DEFAULT '';
		ALTER TABLE filter_held ADD COLUMN client_no_rdns BIGINT NOT NULL DEFAULT 0`,
	}
}

// sizesLocked is migration 37 (nothing on SQLite, whose commits read and
// write under one lock). A merge keeps the larger campaign
// (campaign.Partition); a commit on a snapshot reads the sizes of the
// campaigns it merges without the lock, so another instance may have
// added reports to one since. Under the head — which every intake commit
// holds to its end, so no other can add reports meanwhile — the function
// counts them again (ids and the sizes expected, this commit's own
// reports included) and raises SQLSTATE AC003 when one differs: the
// commit starts again (at last reading under the lock, exactly).
func sizesLocked(d Dialect) string {
	if d.Name != "postgres" {
		return `SELECT 1`
	}
	return `CREATE FUNCTION campaign_sizes_locked(ids TEXT[], sizes BIGINT[]) RETURNS void LANGUAGE plpgsql AS $$ BEGIN IF EXISTS (SELECT 1 FROM unnest(ids, sizes) AS u(id, n) WHERE (SELECT COUNT(*) FROM reports r WHERE r.campaign_id = u.id) <> u.n) THEN RAISE EXCEPTION 'the campaigns to merge changed size since they were read' USING ERRCODE = 'AC003'; END IF; END $$`
}

// sealLockKey is the transaction advisory lock of campaign $1's seal on
// PostgreSQL: AppendCaseEvent takes it shared, campaigns_unsealed_locked
// exclusively.
const sealLockKey = `hashtextextended('accord-campaign-seal:' || CAST($1 AS TEXT), 0)`

// unsealedLocked is migration 34 (nothing on SQLite, whose commits read
// and write under one lock). A case's first event does not take the
// custody head, so a commit that read on a snapshot (or read under the
// head, which case events do not wait for) may find that a campaign it
// would merge has been sealed since — a person worked on it. The function
// takes the seal locks of the campaigns (AppendCaseEvent holds its
// campaign's shared: an event being stored is committed before the lock
// is granted, one coming later waits for the commit and then finds the
// campaign merged) and raises SQLSTATE AC002 when one of them has a
// case; the commit then starts again and sees the seal. Advisory locks,
// not the campaign rows: retention takes a report's row before its
// campaign's, a merge the reports before the campaign, and neither waits
// for these.
func unsealedLocked(d Dialect) string {
	if d.Name != "postgres" {
		return `SELECT 1`
	}
	return `CREATE FUNCTION campaigns_unsealed_locked(ids TEXT[]) RETURNS void LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended('accord-campaign-seal:' || id, 0) AS k FROM unnest(ids) AS u(id) ORDER BY 1) AS x; IF EXISTS (SELECT 1 FROM cases WHERE campaign_id = ANY (ids)) THEN RAISE EXCEPTION 'campaigns to merge were sealed since they were read' USING ERRCODE = 'AC002'; END IF; END $$`
}

// complaintRaw is the SQL expression of a complaint's message bytes, the
// complaints table named a: its own, or its report's (migration 27).
func complaintRaw(a string) string {
	return `CASE WHEN ` + a + `.raw_report = '' THEN ` + a + `.raw ELSE (SELECT rr.raw FROM reports rr WHERE rr.id = ` + a + `.raw_report) END`
}

// keysSince is migration 32's check on PostgreSQL: a commit that grouped
// its reports on a snapshot taken at head S locks the head and looks
// whether any of its keys was taken or moved (seq > S: a campaign founded
// with it, campaigns merged) since; then it starts again (SQLSTATE
// AC001). The founder-based checks go with their tables.
func keysSince(d Dialect) string {
	if d.Name != "postgres" {
		return ``
	}
	return `;
		DROP FUNCTION IF EXISTS campaigns_founded_since_locked(BIGINT, BIGINT[], TEXT[]);
		DROP FUNCTION IF EXISTS campaigns_founded_since(BIGINT, BIGINT[], TEXT[]);
		CREATE FUNCTION campaign_keys_since_locked(since BIGINT, keys BIGINT[]) RETURNS void LANGUAGE plpgsql AS $$ BEGIN PERFORM 1 FROM custody_head WHERE id = 1 FOR UPDATE; IF (SELECT seq FROM custody_head WHERE id = 1) = since THEN RETURN; END IF; IF EXISTS (SELECT 1 FROM unnest(keys) AS u(h) CROSS JOIN LATERAL (SELECT 1 FROM campaign_keys k WHERE k.hash = u.h AND k.seq > since LIMIT 1) AS x) THEN RAISE EXCEPTION 'campaign keys taken or moved since the snapshot' USING ERRCODE = 'AC001'; END IF; END $$`
}

// foundedSinceByIndex is migration 24 (nothing on SQLite).
func foundedSinceByIndex(d Dialect) string {
	if d.Name != "postgres" {
		return `SELECT 1`
	}
	return `CREATE OR REPLACE FUNCTION campaigns_founded_since(since BIGINT, bands BIGINT[], domains TEXT[]) RETURNS void LANGUAGE plpgsql AS $$ BEGIN IF (SELECT seq FROM custody_head WHERE id = 1) = since THEN RETURN; END IF; IF EXISTS (SELECT 1 FROM campaigns c CROSS JOIN LATERAL (SELECT 1 FROM campaign_bands b WHERE b.campaign_id = c.id AND b.band = ANY (bands) LIMIT 1) AS x WHERE c.founded_seq > since) OR EXISTS (SELECT 1 FROM campaigns c CROSS JOIN LATERAL (SELECT 1 FROM campaign_domains m WHERE m.campaign_id = c.id AND m.domain = ANY (domains) LIMIT 1) AS x WHERE c.founded_seq > since) THEN RAISE EXCEPTION 'campaigns were founded since the snapshot' USING ERRCODE = 'AC001'; END IF; END $$`
}

// foundedSinceLocked is migration 26 (nothing on SQLite).
func foundedSinceLocked(d Dialect) string {
	if d.Name != "postgres" {
		return `SELECT 1`
	}
	return `CREATE FUNCTION campaigns_founded_since_locked(since BIGINT, bands BIGINT[], domains TEXT[]) RETURNS void LANGUAGE plpgsql AS $$ BEGIN PERFORM 1 FROM custody_head WHERE id = 1 FOR UPDATE; PERFORM campaigns_founded_since(since, bands, domains); END $$`
}

// foundedSince is, on PostgreSQL, the function a snapshot commit calls
// once it holds the custody head (one line: migrations are split at ";"
// and a line's end).
func foundedSince(d Dialect) string {
	if d.Name != "postgres" {
		return ""
	}
	return `;
		CREATE FUNCTION campaigns_founded_since(since BIGINT, bands BIGINT[], domains TEXT[]) RETURNS void LANGUAGE plpgsql AS $$ BEGIN IF EXISTS (SELECT 1 FROM campaigns c WHERE c.founded_seq > since AND (EXISTS (SELECT 1 FROM campaign_bands b WHERE b.campaign_id = c.id AND b.band = ANY (bands)) OR EXISTS (SELECT 1 FROM campaign_domains m WHERE m.campaign_id = c.id AND m.domain = ANY (domains)))) THEN RAISE EXCEPTION 'campaigns were founded since the snapshot' USING ERRCODE = 'AC001'; END IF; END $$`
}
