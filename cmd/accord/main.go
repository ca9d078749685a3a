// Command accord is Accord in one binary: a node and the file tools around it.
//
// Working on files, with no server:
//
//	accord check    analyse messages (files, directories, mbox, stdin) and print their verdicts
//	accord learn    train the spam classifier on messages of known class
//	accord score    print the classifier's spam probability and class
//	accord eval     run the TREC spam-track protocol over an index
//	accord consent  verify a consent proof offline
//	accord lint     check a campaign before sending (exit 1 on breaches)
//	accord label    verify a message's compliance label offline; revoke and list labels
//
// Running a node:
//
//	accord serve     the complaint desk (SMTP mailbox that answers reporters by mail, JSON API,
//	                 web form), campaigns,
//	                 the federation inbox, TAXII feed and periodic sync with peers,
//	                 and the filter for mail providers (--milter, --rspamd, --spamd)
//	accord init      create a node in a data folder without serving it; every other command needs one
//	accord token     API tokens for scripts: create, list, revoke
//	accord user      web accounts: add, list, passwd, disable, enable, remove
//	accord audit     the audit log: sign-ins, token use, views, exports
//	accord node      the node's public key and fingerprint, which sign its evidence; its DKIM record
//	accord campaign  merge a campaign into another on purpose (intake never merges a worked case)
//	accord evidence  export a signed bundle of a report or campaign, verify one offline, replay the custody log
//	accord keys      the node's federation identity and its rotation
//	accord peer      partner nodes and the agreements with them
//	accord assist    mutual assistance requests with partner authorities
//	accord custody   verify the custody logs of a link with a peer
//	accord received  what partner nodes sent
//	accord withhold  domains that are not the spammer's: never shared, withdrawn from partners
//	accord sender    registered senders: their tokens, standing and suspension
//	accord policy    the filter's policies per recipient, domain and default
//	accord quarantine  messages the filter holds: list, show (audited), release, delete
//	accord outbound  the node's outbound mail queue: list, show
//	accord version   print the version
//
// Run "accord help" for the list and "accord COMMAND -h" for a command's
// flags. Relay tests are planned (docs/ARCHITECTURE.md).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// command is one subcommand: its name, a one-line summary and its function.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, env *env, args []string) error
}

// env is what a command may touch: its streams and a logger. Commands get no
// other global state.
type env struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
}

// errUsage marks a command-line error: the command printed its usage.
var errUsage = errors.New("usage")

// exitError carries a specific exit status.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func commands() []command {
	return []command{
		{"serve", "run a node: the complaint desk's web UI, API and complaints mailbox", cmdServe},
		{"init", "create a node in a data folder without serving it (serve creates one too); other commands need one", cmdInit},
		{"token", "API tokens for scripts (token create --role …, list, revoke ID)", cmdToken},
		{"user", "web accounts (user add --role … NAME, list, passwd, disable, enable, remove)", cmdUser},
		{"audit", "the audit log: sign-ins, token use, views, exports, account changes", cmdAudit},
		{"campaign", "merge a campaign into another on purpose (campaign merge --reason TEXT FROM INTO); intake never merges a worked case", cmdCampaign},
		{"evidence", "export a signed evidence bundle of a report or campaign, or verify one offline", cmdEvidence},
		{"node", "the node's public key and fingerprint, which sign its evidence; its DKIM record (node key|fingerprint|dkim)", cmdNode},
		{"keys", "this node's federation identity (keys show, keys rotate)", cmdKeys},
		{"peer", "partner nodes and the agreements with them (peer add, list, preview, sync …)", cmdPeer},
		{"assist", "mutual assistance requests with partner authorities (assist request, list, update)", cmdAssist},
		{"custody", "verify the custody logs of a link with a peer (custody verify PEER)", cmdCustody},
		{"received", "list what partner nodes sent", cmdReceived},
		{"withhold", "domains that are not the spammer's (a firm a phish wears): never shared as indicators, withdrawn from partners (withhold add DOMAIN --reason TEXT, list, remove)", cmdWithhold},
		{"sender", "registered senders: add, token, list, show, suspend, reinstate", cmdSender},
		{"consent", "verify a consent proof offline (consent verify PROOF.json)", cmdConsent},
		{"label", "compliance labels: verify one offline, revoke, list (label verify --key NODEKEY MESSAGE)", cmdLabel},
		{"lint", "check a campaign before sending: identity, opt-out, DNS, each jurisdiction's rules, bulk-sender requirements", cmdLint},
		{"policy", "the filter's policies per recipient, domain and default (policy set, show, list, delete)", cmdPolicy},
		{"quarantine", "messages the filter holds (quarantine list, show, release, delete)", cmdQuarantine},
		{"outbound", "the node's outbound mail queue: what waits for the relay, what was sent, failed or bounced (outbound list, show)", cmdOutbound},
		{"check", "analyse messages (files, directories, mbox, stdin) and print their verdicts", cmdCheck},
		{"learn", "train the spam classifier on messages of known class (--spam or --ham)", cmdLearn},
		{"score", "print the classifier's spam probability and class for messages", cmdScore},
		{"eval", "run the TREC spam-track protocol over an index and print the measures", cmdEval},
		{"version", "print the version", cmdVersion},
	}
}

const version = "0.1.0-dev"

func cmdVersion(_ context.Context, e *env, _ []string) error {
	fmt.Fprintln(e.stdout, "accord", version)
	return nil
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: accord COMMAND [flags] [arguments]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun \"accord COMMAND -h\" for a command's flags.")
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// serve logs what it does; other commands print their results on
	// stdout and only warnings and errors go to the log (stderr), so log
	// lines never mix into a command's output.
	level := slog.LevelWarn
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		level = slog.LevelInfo
	}
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr,
		log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))}
	os.Exit(run(ctx, e, os.Args[1:]))
}

// run executes one command line and returns the exit status: 0 success,
// 1 failure (some input could not be processed), 2 usage error.
func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(e.stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, e, args[1:])
		var ee *exitError
		switch {
		case err == nil:
			return 0
		case errors.Is(err, errUsage):
			return 2
		case errors.As(err, &ee):
			if ee.err != nil {
				fmt.Fprintf(e.stderr, "accord %s: %v\n", c.name, ee.err)
			}
			return ee.code
		default:
			fmt.Fprintf(e.stderr, "accord %s: %v\n", c.name, err)
			return 1
		}
	}
	fmt.Fprintf(e.stderr, "accord: unknown command %q\n", args[0])
	usage(e.stderr)
	return 2
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
