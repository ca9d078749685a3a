package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os/user"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/store/sqlstore"
)

// Tokens and accounts from the command line; every change is written to
// the audit log as the administrator "cli:" and the system account that ran it.

func auditCLI(ctx context.Context, st *sqlstore.Store, target, detail string) {
	st.AppendAudit(ctx, access.Event{At: time.Now().UTC(), Actor: cliActor(), Action: access.AuditAdmin, Target: target, Detail: detail})
}

// cliActor names who ran a command: "cli:" and the system account, so
// that two administrators' changes are told apart in the audit log.
func cliActor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	return "cli"
}

func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04")
}

func cmdToken(ctx context.Context, e *env, args []string) error {
	usage := func() error {
		fmt.Fprintln(e.stderr, "usage: accord token create [--data DIR] --role reporter|analyst|authority|admin|metrics|mailbox [--label TEXT]")
		fmt.Fprintln(e.stderr, "       accord token list [--data DIR]")
		fmt.Fprintln(e.stderr, "       accord token revoke [--data DIR] ID")
		return errUsage
	}
	if len(args) == 0 {
		return usage()
	}
	fset, nf := nodeFlagSet(e, "token "+args[0])
	switch args[0] {
	case "create":
		role := fset.String("role", "", "reporter, analyst, authority, admin or metrics (reads /metrics only)")
		label := fset.String("label", "", "what the token is for")
		if err := fset.Parse(args[1:]); err != nil || fset.NArg() > 0 {
			return usage()
		}
		r, err := access.ParseRole(*role)
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		return withStore(ctx, nf, func(st *sqlstore.Store) error {
			plain, t := access.NewToken(nil, r, *label, time.Now())
			if err := st.CreateToken(ctx, t); err != nil {
				return err
			}
			auditCLI(ctx, st, "token:"+t.ID, "created for role "+string(r))
			fmt.Fprintf(e.stdout, "token %s for role %s created; it is shown once, keep it secret:\n%s\n", t.ID, r, plain)
			return nil
		})
	case "list":
		if err := fset.Parse(args[1:]); err != nil || fset.NArg() > 0 {
			return usage()
		}
		return withStore(ctx, nf, func(st *sqlstore.Store) error {
			ts, err := st.Tokens(ctx)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tROLE\tLABEL\tCREATED\tLAST USED\tREVOKED")
			for _, t := range ts {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Role, t.Label, when(t.CreatedAt), when(t.LastUsedAt), when(t.RevokedAt))
			}
			return tw.Flush()
		})
	case "revoke":
		pos, err := parseInterleaved(fset, args[1:])
		if err != nil || len(pos) != 1 {
			return usage()
		}
		id := pos[0]
		return withStore(ctx, nf, func(st *sqlstore.Store) error {
			if err := st.RevokeToken(ctx, id, time.Now()); err != nil {
				if errors.Is(err, access.ErrNotFound) {
					return &exitError{code: 1, err: fmt.Errorf("no valid token %s (see accord token list)", id)}
				}
				return err
			}
			auditCLI(ctx, st, "token:"+id, "revoked")
			fmt.Fprintf(e.stdout, "token %s revoked; it is refused from now on\n", id)
			return nil
		})
	}
	return usage()
}

// readPassword reads one line of standard input.
func readPassword(e *env) (string, error) {
	pw, _ := bufio.NewReader(e.stdin).ReadString('\n')
	return access.HashPassword(strings.TrimRight(pw, "\r\n"))
}

func cmdUser(ctx context.Context, e *env, args []string) error {
	usage := func() error {
		fmt.Fprintln(e.stderr, "usage: accord user add [--data DIR] --role analyst|authority|admin NAME   (password on standard input)")
		fmt.Fprintln(e.stderr, "       accord user list [--data DIR]")
		fmt.Fprintln(e.stderr, "       accord user passwd [--data DIR] NAME                               (new password on standard input)")
		fmt.Fprintln(e.stderr, "       accord user disable|enable|remove [--data DIR] NAME")
		return errUsage
	}
	if len(args) == 0 {
		return usage()
	}
	cmd := args[0]
	fset, nf := nodeFlagSet(e, "user "+cmd)
	role := fset.String("role", "analyst", "analyst, authority or admin (user add)")
	want := 1 // The user's name; flags may come before or after it.
	switch cmd {
	case "add", "passwd", "disable", "enable", "remove":
	case "list":
		want = 0
	default:
		return usage()
	}
	pos, err := parseInterleaved(fset, args[1:])
	if err != nil || len(pos) != want {
		return usage()
	}
	var name string
	if len(pos) > 0 {
		name = pos[0]
	}
	missing := func(err error) error {
		if errors.Is(err, access.ErrNotFound) {
			return &exitError{code: 1, err: fmt.Errorf("no user %s (see accord user list)", name)}
		}
		return err
	}
	switch cmd {
	case "add":
		r, err := access.ParseRole(*role)
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		if err := access.CheckUserName(name); err != nil {
			return &exitError{code: 2, err: fmt.Errorf("user %s: %w: nothing saved", shown(name), err)}
		}
		h, err := readPassword(e)
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		return withStore(ctx, nf, func(st *sqlstore.Store) error {
			// One person, one name: "ANA" beside "ana" would read as the
			// same account in the audit log.
			us, err := st.Users(ctx)
			if err != nil {
				return err
			}
			for _, u := range us {
				if strings.EqualFold(u.Name, name) && u.Name != name {
					return &exitError{code: 1, err: fmt.Errorf("user %s differs from the existing user %s only in case: nothing saved", shown(name), shown(u.Name))}
				}
			}
			if err := st.CreateUser(ctx, access.User{Name: name, PasswordHash: h, Role: r, CreatedAt: time.Now()}); err != nil {
				if errors.Is(err, access.ErrExists) {
					return &exitError{code: 1, err: fmt.Errorf("user %s already exists: nothing changed (accord user passwd %s sets a new password)", name, name)}
				}
				return err
			}
			auditCLI(ctx, st, "user:"+name, "added with role "+string(r))
			fmt.Fprintf(e.stdout, "user %s (%s) saved\n", name, r)
			return nil
		})
	case "passwd":
		h, err := readPassword(e)
		if err != nil {
			return &exitError{code: 2, err: err}
		}
		return withStore(ctx, nf, func(st *sqlstore.Store) error {
			if err := st.SetPassword(ctx, name, h); err != nil {
				return missing(err)
			}
			auditCLI(ctx, st, "user:"+name, "password changed; sessions ended")
			fmt.Fprintf(e.stdout, "password of %s changed; their sessions are ended\n", name)
			return nil
		})
	case "disable", "enable":
		return withStore(ctx, nf, func(st *sqlstore.Store) error {
			at := time.Now()
			if cmd == "enable" {
				at = time.Time{}
			}
			if err := st.DisableUser(ctx, name, at); err != nil {
				return missing(err)
			}
			auditCLI(ctx, st, "user:"+name, cmd+"d")
			fmt.Fprintf(e.stdout, "user %s %sd\n", name, cmd)
			return nil
		})
	case "remove":
		return withStore(ctx, nf, func(st *sqlstore.Store) error {
			if err := st.RemoveUser(ctx, name); err != nil {
				return missing(err)
			}
			auditCLI(ctx, st, "user:"+name, "removed")
			fmt.Fprintf(e.stdout, "user %s removed\n", name)
			return nil
		})
	}
	return withStore(ctx, nf, func(st *sqlstore.Store) error {
		us, err := st.Users(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tROLE\tCREATED\tDISABLED")
		for _, u := range us {
			// Escaped: a name saved before names were checked may hold
			// what would forge a line or drive the terminal.
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", shown(u.Name), u.Role, when(u.CreatedAt), when(u.DisabledAt))
		}
		return tw.Flush()
	})
}

func cmdAudit(ctx context.Context, e *env, args []string) error {
	fset, nf := nodeFlagSet(e, "audit")
	after := fset.Int64("after", 0, "show events after this sequence number")
	limit := fset.Int("limit", 1000, "at most this many events")
	fset.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: accord audit [--data DIR] [--after SEQ] [--limit N]")
		fmt.Fprintln(e.stderr, "The audit log: sign-ins (failed and throttled too), token use, views, exports, account changes.")
		fset.PrintDefaults()
	}
	if err := fset.Parse(args); err != nil || fset.NArg() > 0 {
		return errUsage
	}
	afterSet := false
	fset.Visit(func(f *flag.Flag) { afterSet = afterSet || f.Name == "after" })
	return withStore(ctx, nf, func(st *sqlstore.Store) error {
		head, err := st.AuditHead(ctx)
		if err != nil {
			return err
		}
		from := *after
		if !afterSet {
			// The newest events by default: an operator looks for what
			// just happened, not for the first day's.
			from = max(0, head-int64(*limit))
		}
		ev, err := st.AuditLog(ctx, from, *limit)
		if errors.Is(err, access.ErrLimit) {
			return &exitError{code: 2, err: fmt.Errorf("--limit is at most %d (page with --after)", access.MaxAuditLimit)}
		}
		if err != nil {
			return err
		}
		toks, err := st.Tokens(ctx)
		if err != nil {
			return err
		}
		if err := writeAudit(e.stdout, ev, access.Namer(toks)); err != nil {
			return err
		}
		if from > 0 && !afterSet {
			fmt.Fprintf(e.stderr, "(older events: accord audit --after 0)\n")
		}
		if n := len(ev); n > 0 && ev[n-1].Seq < head {
			fmt.Fprintf(e.stderr, "(more: accord audit --after %d)\n", ev[n-1].Seq)
		}
		return nil
	})
}

// writeAudit prints events one a line. Every field is printed with its
// control characters escaped: a user name sent to the sign-in form is the
// client's text, and a tab, a newline or an escape sequence in it must
// not forge a line or rewrite the operator's terminal.
func writeAudit(w io.Writer, ev []access.Event, name func(string) string) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tTIME\tACTOR\tACTION\tTARGET\tIP\tDETAIL")
	for _, x := range ev {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", x.Seq, x.At.UTC().Format(time.RFC3339), shown(name(x.Actor)), shown(x.Action), shown(x.Target), shown(x.IP), shown(x.Detail))
	}
	return tw.Flush()
}

// shown escapes what a terminal would act on (control characters,
// invisible format characters) and backslashes, Go-style.
func shown(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r == '\\' || !unicode.IsGraphic(r) || unicode.Is(unicode.Cf, r) }) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == utf8.RuneError, !unicode.IsGraphic(r), unicode.Is(unicode.Cf, r):
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
