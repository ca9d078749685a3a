// Package access says who may do what on a node: accounts with hashed
// passwords for people, bearer tokens for scripts (stored as hashes, shown
// once), sessions for the web UI with their CSRF secret, and roles.
package access

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"
)

// Role is what a principal may do.
type Role string

const (
	Anonymous Role = ""          // Files reports through the web form; sees only its own, by link.
	Reporter  Role = "reporter"  // Files reports through the API; sees the ones it filed.
	Analyst   Role = "analyst"   // Reads every report and campaign, exports evidence.
	Authority Role = "authority" // An analyst who also handles cases and cooperation.
	Admin     Role = "admin"     // Everything, including accounts and tokens.
	// Peer is a partner node's token for the TAXII feed: it reads the
	// collections derived from its agreement (its Label names the peer)
	// and nothing else.
	Peer Role = "peer"
	// Sender is a registered sender's token (its Label names the sender):
	// it records consent, makes opt-out links, syncs its suppressions and
	// asks for labels, for that sender only, and sees nothing else.
	Sender Role = "sender"
	// Mailbox is a mailbox owner at a provider that runs the filter: the
	// account's name is their address, and they manage their own filter
	// policy and quarantine, nothing else.
	Mailbox Role = "mailbox"
	// Metrics is a monitoring system's token: it reads /metrics (the
	// operators' figures, no report content) and nothing else.
	Metrics Role = "metrics"
)

var rank = map[Role]int{Anonymous: 0, Peer: 0, Sender: 0, Mailbox: 0, Metrics: 0, Reporter: 1, Analyst: 2, Authority: 3, Admin: 4}

// ParseRole reads a role name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if _, ok := rank[r]; !ok || r == Anonymous || r == Peer || r == Sender {
		return "", fmt.Errorf("access: unknown role %q (reporter, analyst, authority, admin, mailbox or metrics)", s)
	}
	return r, nil
}

// AtLeast reports whether r includes the rights of o.
func (r Role) AtLeast(o Role) bool { return rank[r] >= rank[o] }

// Principal is who is asking.
type Principal struct {
	Kind string // "token", "user" or "anonymous".
	ID   string // Token id or user name.
	Role Role
}

// Label names the principal in logs and the custody log.
func (p Principal) Label() string {
	if p.Kind == "anonymous" || p.Kind == "" {
		return "anonymous"
	}
	return p.Kind + ":" + p.ID
}

// Namer names actors for people. Logs, cases and the custody log keep a
// token's id — stable and unique, while labels are free text an admin
// may repeat — but "token:anjssmf6" tells a reader nothing, so what is
// shown adds the label its creator gave: "token:anjssmf6 (ci upload)".
// Other actors, and tokens not in the list, are shown as stored.
func Namer(tokens []Token) func(actor string) string {
	labels := make(map[string]string, len(tokens))
	for _, t := range tokens {
		if t.Label != "" {
			labels["token:"+t.ID] = t.Label
		}
	}
	return func(actor string) string {
		if l, ok := labels[actor]; ok {
			return actor + " (" + l + ")"
		}
		return actor
	}
}

// Token is a stored API token: only its hash.
type Token struct {
	ID         string
	Hash       string
	Role       Role
	Label      string
	CreatedAt  time.Time
	LastUsedAt time.Time // Zero: never used (updated at most every few minutes).
	RevokedAt  time.Time // Zero: valid. A revoked token is refused and kept for the record.
}

// User is an account for the web UI.
type User struct {
	Name         string
	PasswordHash string
	Role         Role
	CreatedAt    time.Time
	DisabledAt   time.Time // Zero: may sign in.
}

// Disabled reports whether the account may not sign in.
func (u User) Disabled() bool { return !u.DisabledAt.IsZero() }

// Session is a logged-in browser.
type Session struct {
	Hash      string // Of the cookie value.
	User      string
	CSRF      string // Secret the forms carry.
	ExpiresAt time.Time
}

// Store keeps accounts, tokens and sessions.
type Store interface {
	CreateToken(ctx context.Context, t Token) error
	// TokenByHash finds a valid token: a revoked one is ErrNotFound.
	TokenByHash(ctx context.Context, hash string) (Token, error)
	// CreateUser adds an account; ErrExists when the name is taken.
	CreateUser(ctx context.Context, u User) error
	UserByName(ctx context.Context, name string) (User, error)
	CreateSession(ctx context.Context, s Session) error
	SessionByHash(ctx context.Context, hash string) (Session, error)
	DeleteSession(ctx context.Context, hash string) error
}

// Accounts is the administration of tokens and users.
type Accounts interface {
	Tokens(ctx context.Context) ([]Token, error)
	// RevokeToken revokes a token by id (ErrNotFound).
	RevokeToken(ctx context.Context, id string, at time.Time) error
	// TokenUsed records a token's last use.
	TokenUsed(ctx context.Context, id string, at time.Time) error
	Users(ctx context.Context) ([]User, error)
	// SetPassword changes a password and ends the user's sessions.
	SetPassword(ctx context.Context, name, hash string) error
	// DisableUser (at non-zero) or enables (zero) an account; disabling
	// ends its sessions.
	DisableUser(ctx context.Context, name string, at time.Time) error
	// RemoveUser deletes an account and its sessions.
	RemoveUser(ctx context.Context, name string) error
}

// Event is one line of the audit log: who did what, from where. The
// custody log stays the evidence of what happened to each report; the
// audit log is the account of access to the desk.
type Event struct {
	Seq    int64
	At     time.Time
	Actor  string // "user:ana", "token:ab12", "anonymous".
	Action string // One of the Audit* actions.
	Target string // What was acted on: a user name, "report:ID", "campaign:ID".
	IP     string
	Detail string
}

// Audit actions.
const (
	AuditSignIn          = "sign-in"
	AuditSignInFailed    = "sign-in-failed"
	AuditSignInThrottled = "sign-in-throttled"
	AuditSignOut         = "sign-out"
	AuditTokenUsed       = "token-used"
	AuditTokenRefused    = "token-refused" // An invalid or revoked token was presented.
	AuditView            = "view"
	AuditExport          = "export"
	AuditAdmin           = "admin" // A change to tokens or accounts.
)

// Auditor keeps the audit log.
type Auditor interface {
	AppendAudit(ctx context.Context, e Event) error
	// AuditLog returns events after seq (0: from the start), oldest
	// first, at most limit (ErrLimit over MaxAuditLimit).
	AuditLog(ctx context.Context, after int64, limit int) ([]Event, error)
}

// MaxAuditLimit is the most audit events one read returns; asking for more
// is ErrLimit, never a silently shorter list (page with after).
const MaxAuditLimit = 10000

// ErrLimit is returned for an audit read over MaxAuditLimit.
var ErrLimit = errors.New("access: an audit read is at most 10000 events")

// ErrNotFound is returned for unknown tokens, users and sessions.
var ErrNotFound = errors.New("access: not found")

// CheckUserName says why name cannot be an account's name: empty, longer
// than 64 bytes, not UTF-8, or holding a space, a control or an
// invisible format character (an escape sequence or a newline forges
// lines on the operator's terminal; a zero-width space makes "ana" and
// "ana\u200b" two accounts that read the same).
func CheckUserName(name string) error {
	switch {
	case name == "":
		return errors.New("a user name cannot be empty")
	case len(name) > 64:
		return errors.New("a user name has at most 64 bytes")
	case !utf8.ValidString(name):
		return errors.New("a user name must be UTF-8 text")
	}
	for _, r := range name {
		if unicode.IsSpace(r) || unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || !unicode.IsGraphic(r) {
			return fmt.Errorf("a user name cannot hold %U (a space, a control or an invisible character)", r)
		}
	}
	return nil
}

// ErrExists is returned when a name is already taken.
var ErrExists = errors.New("access: already exists")

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// Secret returns a new random secret of n bytes, printable.
func Secret(r io.Reader, n int) string {
	if r == nil {
		r = rand.Reader
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		panic("access: no randomness: " + err.Error())
	}
	return strings.ToLower(b32.EncodeToString(b))
}

// Hash is how tokens and session cookies are stored: SHA-256, since they
// are long random secrets (passwords use bcrypt).
func Hash(secret string) string {
	s := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(s[:])
}

// Bearer is the token of an Authorization field of the Bearer scheme,
// whose name is case-insensitive (RFC 9110 11.1: "bearer" and "BEARER"
// are the same scheme); ok is false for another scheme or none.
func Bearer(authorization string) (token string, ok bool) {
	scheme, rest, found := strings.Cut(strings.TrimLeft(authorization, " "), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(rest), true
}

// NewToken makes a token: the plain value to show once, and the record to
// store. The value starts with its id, so a lookup needs no scan.
func NewToken(r io.Reader, role Role, label string, now time.Time) (string, Token) {
	id := Secret(r, 5)
	secret := "acc_" + id + "_" + Secret(r, 20)
	return secret, Token{ID: id, Hash: Hash(secret), Role: role, Label: label, CreatedAt: now.UTC()}
}

// HashPassword hashes a password with bcrypt.
func HashPassword(pw string) (string, error) {
	if len(pw) < 10 {
		return "", errors.New("access: passwords need at least 10 characters")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// CheckPassword compares a password with its hash.
func CheckPassword(hash, pw string) bool {
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw)) == nil
}
