package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofrs/flock"

	"github.com/accord-antispam/accord/internal/config"
	"github.com/accord-antispam/accord/internal/connlimit"
	"github.com/accord-antispam/accord/internal/consent"
	"github.com/accord-antispam/accord/internal/fbl"
	"github.com/accord-antispam/accord/internal/federation"
	"github.com/accord-antispam/accord/internal/federation/fedhttp"
	"github.com/accord-antispam/accord/internal/federation/stix"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/label"
	"github.com/accord-antispam/accord/internal/lease"
	"github.com/accord-antispam/accord/internal/lint"
	"github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/mailauth"
	"github.com/accord-antispam/accord/internal/metrics"
	"github.com/accord-antispam/accord/internal/nodekey"
	"github.com/accord-antispam/accord/internal/outbound"
	"github.com/accord-antispam/accord/internal/resolve"
	"github.com/accord-antispam/accord/internal/smtpd"
	"github.com/accord-antispam/accord/internal/spool"
	"github.com/accord-antispam/accord/internal/store/postgres"
	"github.com/accord-antispam/accord/internal/store/sqlite"
	"github.com/accord-antispam/accord/internal/store/sqlstore"
	"github.com/accord-antispam/accord/internal/web"
)

// nodeFlags are shared by the commands that open a node's data folder.
type nodeFlags struct {
	config string
	data   string
}

// nodeFlagSet is the flag set of a command that opens a node's data
// folder: errors go to the command's standard error, --data is registered.
func nodeFlagSet(e *env, name string) (*flag.FlagSet, *nodeFlags) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	nf := new(nodeFlags)
	nf.register(fs)
	return fs, nf
}

// openNodeFolder takes the data folder for this process (a second one is
// refused, exit 1), then loads or makes the node key and opens the store:
// what serve and init both do first.
func openNodeFolder(ctx context.Context, c config.Config) (*flock.Flock, *nodekey.Key, *sqlstore.Store, error) {
	lock, err := lockData(c.Data)
	if err != nil {
		return nil, nil, nil, &exitError{code: 1, err: err}
	}
	key, err := nodekey.LoadOrCreate(c.Data)
	if err != nil {
		lock.Unlock()
		return nil, nil, nil, err
	}
	st, err := openStore(ctx, c)
	if err != nil {
		lock.Unlock()
		return nil, nil, nil, err
	}
	return lock, key, st, nil
}

func (f *nodeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.config, "config", "", "configuration file (TOML); defaults apply without one")
	fs.StringVar(&f.data, "data", "", "data folder (default accord-data, or the config's)")
}

func (f *nodeFlags) load() (config.Config, error) {
	c := config.Default()
	if f.config != "" {
		var err error
		if c, err = config.Load(f.config); err != nil {
			return c, err
		}
	}
	if f.data != "" {
		c.Data = f.data
	}
	return c, nil
}

// loadNode is load for every command but serve: the data folder must hold
// a node that serve created. A mistyped --data (or none, in another
// directory) would otherwise create an empty database and a new node key,
// and the command would "succeed" on nothing: an empty custody chain
// verified, a token the running node never sees.
func (f *nodeFlags) loadNode() (config.Config, error) {
	c, err := f.load()
	if err != nil {
		return c, err
	}
	return c, requireNode(c)
}

// requireNode says what is missing when c.Data is not an initialised node.
func requireNode(c config.Config) error {
	hint := fmt.Sprintf("check --data (or the config's data); `accord serve --data %s` creates a node there", c.Data)
	fi, err := os.Stat(c.Data)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("no node in %s: the folder does not exist; %s", c.Data, hint)
	case err != nil:
		return fmt.Errorf("data folder %s: %w", c.Data, err)
	case !fi.IsDir():
		return fmt.Errorf("data folder %s is not a folder; %s", c.Data, hint)
	}
	need := []string{nodekey.FileName}
	if c.Store.Driver != "postgres" {
		need = append(need, "accord.db")
	}
	for _, n := range need {
		if _, err := os.Stat(filepath.Join(c.Data, n)); err != nil {
			return fmt.Errorf("no node in %s: it has no %s; %s", c.Data, n, hint)
		}
	}
	return nil
}

// instanceID names this serve process among the instances sharing its
// store (the host and process, and a random part a restart changes).
func instanceID() string {
	host, _ := os.Hostname()
	var b [6]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%x", host, os.Getpid(), b)
}

func openStore(ctx context.Context, c config.Config) (*sqlstore.Store, error) {
	if c.Store.Driver == "postgres" {
		return postgres.Open(ctx, c.Store.DSN)
	}
	return sqlite.Open(ctx, filepath.Join(c.Data, "accord.db"))
}

func cmdServe(ctx context.Context, e *env, args []string) error {
	fset, nf := nodeFlagSet(e, "serve")
	httpAddr := fset.String("http", "", "HTTP listen address for the web UI and API (default 127.0.0.1:8080)")
	smtpAddr := fset.String("smtp", "", "SMTP listen address for the complaints mailbox (default 127.0.0.1:2525)")
	milterAddr := fset.String("milter", "", "the filter's milter listener, e.g. 127.0.0.1:11332 (default: off, or [filter] milter)")
	rspamdAddr := fset.String("rspamd", "", "the filter's rspamd-compatible HTTP listener, e.g. 127.0.0.1:11333 (default: off)")
	spamdAddr := fset.String("spamd", "", "the filter's spamd listener, e.g. 127.0.0.1:783 (default: off)")
	fset.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: accord serve [--config FILE] [--data DIR] [--http ADDR] [--smtp ADDR] [--milter ADDR] [--rspamd ADDR] [--spamd ADDR]")
		fmt.Fprintln(e.stderr, "Run a node: the complaint desk's web UI, JSON API and complaints mailbox.")
		fset.PrintDefaults()
	}
	if err := fset.Parse(args); err != nil || fset.NArg() > 0 {
		return errUsage
	}
	c, err := nf.load()
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if *httpAddr != "" {
		c.HTTP.Listen = *httpAddr
	}
	if *smtpAddr != "" {
		c.SMTP.Listen = *smtpAddr
	}
	for _, x := range []struct{ flag, dst *string }{{milterAddr, &c.Filter.Milter}, {rspamdAddr, &c.Filter.Rspamd}, {spamdAddr, &c.Filter.Spamd}} {
		if *x.flag != "" {
			*x.dst = *x.flag
		}
	}
	log := e.log
	lock, key, st, err := openNodeFolder(ctx, c)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	defer st.Close()
	ef := engineFlags{trusted: c.Analysis.Trusted, trustedOnly: c.Analysis.TrustedOnly, resolver: c.Analysis.Resolver,
		resolverKey: "config: analysis.resolver", jurisdictions: strings.Join(c.Analysis.Jurisdictions, ",")}
	ef.model.data = c.Data
	an, err := ef.analyzer(ctx, e)
	if err != nil {
		return err
	}
	if zone := c.Analysis.ZoneFile(); zone != "" {
		// A fixture zone answers as the DNS would: its keys verify DKIM
		// signatures, and those establish the sender domains the node
		// shares with partners. Right for a test node, never for a real one.
		log.Warn("analysis: the resolver is a fixture zone file, not the DNS: every SPF, DKIM and DMARC result of this node, "+
			"and every sender domain it shares with partners, rests on that file's records; not for production: set [analysis] resolver = \"live\"",
			"resolver", zone)
	}
	if an.Geo != nil {
		// The geo database is decoded on first use (a few hundred
		// milliseconds of CPU): do it now, beside the start, rather than
		// in the first messages' time.
		go func() {
			if err := an.Geo.Err(); err != nil {
				log.Warn("geo database", "err", err)
			}
		}()
	}
	// Labels are checked in every verdict; the issuers are set below, once
	// the node's own status list can be made.
	an.Labels = label.NewVerifier(nil)
	feedback := fbl.New() // filled in below, once the consent service exists
	mx := metrics.New()
	desk, err := intake.New(st, an, intake.Options{Secret: key.Derive("reporter-pseudonyms"), Signer: key.Private, Logger: log,
		Committed: feedback.Notify, Observe: observeIntake(mx)})
	if err != nil {
		return err
	}
	mx.Gauge("accord_intake_queue_depth", "Complaints analysed and waiting for their commit.", func() float64 { return float64(desk.QueueDepth()) })
	mx.Counter("accord_intake_commit_restarts_total", "Commits (PostgreSQL) that started again because another instance took one of their grouping keys, or sealed a campaign they would merge, after they read them.", func() float64 {
		again, _ := st.CommitRetries()
		return float64(again)
	})
	mx.GaugeSet("accord_outbound_queue", "The node's outbound mail by state (queued, sent, failed…).", "state", func() (map[string]float64, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		q, err := st.MailQueue(ctx)
		out := map[string]float64{}
		for _, k := range []outbound.State{outbound.Queued, outbound.Sent, outbound.Failed, outbound.Bounced} {
			out[string(k)] = 0 // every state, so a rate of an absent one is 0, not "no data"
		}
		for k, v := range q {
			out[string(k)] = float64(v)
		}
		return out, err
	})
	fed := &federation.Service{Store: st, Source: st, Key: key.Private, Jurisdiction: c.Node.Jurisdiction, Log: log,
		Transport: &fedhttp.Transport{}, MaxBytes: c.Federation.EnvelopeBytes,
		Window: c.Federation.Window.Duration}
	if err := fed.Init(ctx); err != nil {
		return err
	}
	if ps, err := st.Peers(ctx); err == nil && len(ps) > 0 && c.Analysis.Resolver == config.ResolverOffline {
		// Without DNS the node authenticates no From, and shares a sender
		// domain only when its own check did (docs/federation.md): its
		// partners get origins, link domains and links, never the spam's
		// sender domain.
		log.Warn("federation: the resolver is offline, so the node checks no SPF, DKIM or DMARC and shares no spam's sender domain with partners (only origins, link domains and links); set [analysis] resolver = \"live\"",
			"peers", len(ps), "resolver", "offline")
	}
	hl, err := net.Listen("tcp", c.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("http listen: %w", err)
	}
	sl, err := net.Listen("tcp", c.SMTP.Listen)
	if err != nil {
		hl.Close()
		return fmt.Errorf("smtp listen: %w", err)
	}
	if c.HTTP.PublicURL == "" {
		c.HTTP.PublicURL = "http://" + hl.Addr().String() // the address really bound, port 0 resolved
		log.Warn("http.public_url is not set: status links in acknowledgements and pages point at "+c.HTTP.PublicURL+
			", which reporters elsewhere cannot open; set it to the address people use (https://…)", "public_url", c.HTTP.PublicURL)
	}
	if c.Privacy.Controller == "" {
		log.Warn("privacy.controller is not set: the privacy notice at /privacy names the controller only as \"the authority that runs this desk\"; " +
			"set [privacy] controller (and contact, purposes, legal_basis) to your organisation's words")
	}
	if c.Senders.PublicURL == "" {
		c.Senders.PublicURL = c.PublicBase()
	}
	mq, err := openOutbound(c, st, key, log)
	if err != nil {
		return err
	}
	if err := pinDKIM(ctx, c, st, mq, false); err != nil {
		return err
	}
	senders, err := newConsent(c, key, st, outboundMailer{mq}, log)
	if err != nil {
		return err
	}
	if ss, err := st.Senders(ctx); err == nil && len(ss) > 0 {
		if !strings.HasPrefix(c.SendersURL(), "https://") {
			log.Warn("senders: the node's public URL is " + c.SendersURL() + ": the one-click opt-out links it gives senders are not https, " +
				"so lint and labels refuse them; set [senders] public_url (or [http] public_url) to an https:// address")
		}
		if !consent.MailHostReachable(c.SendersMailDomain()) {
			log.Warn("senders: the node's mail domain is " + c.SendersMailDomain() + ", which no one elsewhere can reach: opt-out links carry no mailto address; " +
				"set [senders] mail_domain (or [smtp] hostname) to the domain whose MX is this node")
		}
	}
	certifier := &lint.Certifier{Linter: &lint.Linter{Analyzer: an}, Consent: senders, Labels: st, Key: key.Private,
		StatusURL: c.SendersURL() + web.StatusPath}
	trust := &labelTrust{verifier: an.Labels, own: label.Issuer{Name: "this node", Key: nodePublic(key)}, cert: certifier,
		fed: st, client: &http.Client{Timeout: 30 * time.Second}, log: log}
	trust.refresh(ctx)
	go trust.loop(ctx)
	feedback.Store, feedback.Reports, feedback.Consent, feedback.Node, feedback.Log = st, st, senders, c.Node.Name, log
	feedback.Mailer, feedback.Labels = outboundMailer{mq}, st
	// Of the instances on one database, one at a time follows the custody
	// log for the feedback loop (each read every report before).
	feedback.Lease = &lease.Holder{Store: st, Name: "feedback", ID: instanceID()}
	feedbackCtx, stopFeedback := context.WithCancel(ctx)
	defer stopFeedback()
	feedbackDone := make(chan struct{})
	go func() {
		defer close(feedbackDone)
		feedback.Run(feedbackCtx)
	}()
	ans, err := answers(c, mq)
	if err != nil {
		return err
	}
	if c.Outbound.Relay == "" {
		log.Warn("outbound: no relay configured ([outbound] relay): " + waitingMail)
	} else if !consent.MailHostReachable(mq.Domain()) {
		log.Warn("outbound: the node's mail goes out from " + mq.Domain() + ", a name no one elsewhere can reach: its bounce addresses " +
			"(bounce+…@" + mq.Domain() + ") and DKIM signature (d=" + mq.Domain() + ") cannot work; set [smtp] hostname or [outbound] from to the node's mail domain")
	}
	// A fault a filter door recovered from: accord_errors_total{component="milter_panic"} (rspamd_, spamd_).
	filt, err := newFilter(ctx, c, st, an, key, filterMail{mq}, func(door string) { mx.Error(door + "_panic") }, desk.Pseudonym, log)
	if err != nil {
		return err
	}
	mq.OnDone(releaseDone(filt, log))
	doors, err := startFilterDoors(c, filt, log)
	if err != nil {
		return err
	}
	lim := web.Limits{FormPerIP: c.HTTP.RateFormPerIP, APIPerToken: c.HTTP.RateAPIPerToken, APIPerIP: c.HTTP.RateAPIPerIP,
		LoginPerIP: c.HTTP.RateLoginPerIP, LoginPerUser: c.HTTP.RateLoginPerUser,
		// One budget of bytes in memory for every door: the form, the API
		// and the mailbox together.
		Budget: spool.NewBudget(c.HTTP.InflightBytes)}
	for _, p := range c.HTTP.TrustedProxies {
		pf, _ := config.ParsePrefix(p)
		lim.TrustedProxies = append(lim.TrustedProxies, pf)
	}
	ws, err := web.New(desk, st, web.Config{Name: c.Node.Name, PublicURL: c.PublicBase(), Limits: &lim, NodeKey: key.Public(), Jurisdiction: c.Node.Jurisdiction, ExportOriginal: c.Privacy.ExportOriginal, MaxUpload: c.HTTP.MaxUpload,
		SecureCookies: c.HTTP.SecureCookies || strings.HasPrefix(c.PublicBase(), "https://"), Federation: fed, Consent: senders, Certifier: certifier, Filter: filt, Metrics: mx,
		StatsMinCell: c.Statistics.MinCell, StatsNoise: statsNoise(c.Statistics.Noise),
		Privacy: web.PrivacyNotice{Controller: c.Privacy.Controller, Contact: c.Privacy.Contact, DPO: c.Privacy.DPO, Purposes: c.Privacy.Purposes,
			LegalBasis: c.Privacy.LegalBasis, Supervisory: c.Privacy.Supervisory},
		Retention: retention(c), Mailbox: c.MailboxAddress()}, log)
	if err != nil {
		return err
	}
	var tlsConf *tls.Config
	if c.SMTP.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(c.SMTP.TLSCert, c.SMTP.TLSKey)
		if err != nil {
			return fmt.Errorf("smtp TLS: %w", err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ms := smtpd.New(desk, smtpd.Config{Hostname: c.SMTP.Hostname, MaxMessageBytes: c.SMTP.MaxMessageBytes, MaxRecipients: c.SMTP.MaxRecipients,
		RatePerSender: c.SMTP.RatePerSender, RatePerIP: c.SMTP.RatePerIP, MaxConns: c.SMTP.MaxConns, MaxConnsPerIP: c.SMTP.MaxConnsPerIP, AnswersPerIP: c.SMTP.AnswersPerIP, Budget: lim.Budget,
		IdleTimeout: c.SMTP.IdleTimeout.Duration, MaxSession: c.SMTP.MaxSession.Duration, TLS: tlsConf, OptOut: mailtoDoor{senders}, Answers: ans,
		Authenticate: reporterAuth(an.Resolver, log)}, log)

	feed := &stix.Feed{Fed: fed, Store: st, Name: c.Node.Name}
	taxii := &stix.TAXII{Fed: fed, Feed: feed, Tokens: st, Title: c.Node.Name, PublicURL: c.PublicBase(), Log: log}
	root := http.NewServeMux()
	inbox := fedhttp.NewInbox(fed, c.Federation.MaxEnvelope, c.Federation.InboxConcurrency, log)
	if d := c.Federation.InboxMaxRead.Duration; d > 0 {
		inbox.MaxRead = d
	}
	root.Handle(fedhttp.InboxPath, inbox)
	root.Handle(stix.Prefix, taxii.Handler())
	root.Handle("/", ws.Handler())
	hs := &http.Server{Handler: root, ReadHeaderTimeout: c.HTTP.HeaderTimeout.Duration, ReadTimeout: c.HTTP.RequestTimeout.Duration,
		WriteTimeout: c.HTTP.RequestTimeout.Duration, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 2)
	// Connections are bounded before any request is read: one client
	// holding thousands of slow connections would take the descriptors the
	// mailbox needs too. The balancers in front count only in all.
	bl := connlimit.Wrap(hl, connlimit.Limits{Max: c.HTTP.MaxConns, PerIP: c.HTTP.MaxConnsPerIP, Exempt: lim.TrustedProxies, Log: log,
		Refuse: func(c net.Conn, why string) {
			io.WriteString(c, "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 10\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: 35\r\n\r\nToo many connections; retry later.\n")
		}})
	go func() { errc <- hs.Serve(bl) }()
	go func() { errc <- ms.Serve(sl) }()
	n, _ := st.CountReports(ctx)
	log.Info("accord node up", "http", hl.Addr().String(), "smtp", sl.Addr().String(), "data", c.Data, "store", c.Store.Driver,
		"reports", n, "classifier", an.Classifier != nil)
	fmt.Fprintf(e.stdout, "accord: serving http://%s (web and API) and smtp://%s (complaints mailbox), data in %s\n", hl.Addr(), sl.Addr(), c.Data)
	if len(doors.addrs) > 0 {
		log.Info("filter doors up", "doors", strings.Join(doors.addrs, ", "))
		fmt.Fprintf(e.stdout, "accord: filter on %s\n", strings.Join(doors.addrs, ", "))
	}
	go digestLoop(ctx, filt, c.Filter.DigestInterval.Duration, c.PublicBase(), filterMail{mq}, log)
	filterDone := make(chan struct{})
	go func() {
		defer close(filterDone)
		// Campaigns and partners' indicators change slowly and cost a scan
		// of the desk: reloaded once a minute, and only when a door is on.
		last := time.Now()
		filt.Run(ctx, c.Filter.SyncInterval.Duration, c.Filter.RebuildInterval.Duration, func(ctx context.Context) {
			if len(doors.addrs) > 0 && time.Since(last) >= time.Minute {
				last = time.Now()
				reloadIntel(ctx, filt, st, c.Filter.CampaignMinReports, log)
			}
		})
	}()

	mailCtx, stopMail := context.WithCancel(context.Background())
	mailDone := make(chan struct{})
	go func() {
		defer close(mailDone)
		mq.Run(mailCtx)
	}()

	// The federation's own schedule: rounds to peers, retries, and the
	// purge of received items past their retention (even with sync off).
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	syncDone, purgeDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(syncDone)
		fed.Run(runCtx, federation.Schedule{Sync: c.Federation.SyncInterval.Duration, Retry: c.Federation.RetryInterval.Duration,
			Purge: c.Federation.PurgeInterval.Duration, Refresh: feed.Refresh})
	}()
	go func() {
		defer close(purgeDone)
		purgeLoop(ctx, desk, mq, senders, retention(c), c.Privacy.PurgeInterval.Duration, log)
	}()

	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down: draining in-flight work")
	case serveErr = <-errc:
		log.Error("listener failed", "err", serveErr)
	case serveErr = <-doors.errc:
		log.Error("filter listener failed", "err", serveErr)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hs.Shutdown(sctx)
	ms.Shutdown(sctx)
	doors.stop(sctx)
	stopRun()
	<-syncDone
	<-filterDone
	<-purgeDone
	desk.Close()
	stopMail()
	<-mailDone
	stopFeedback() // after the desk: what it committed last is fed back next start
	<-feedbackDone
	log.Info("stopped")
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return nil
}

// cmdInit creates a node's data folder (its key and database) so that
// accounts and tokens can be made before the first serve.
func cmdInit(ctx context.Context, e *env, args []string) error {
	fset, nf := nodeFlagSet(e, "init")
	if err := fset.Parse(args); err != nil || fset.NArg() > 0 {
		fmt.Fprintln(e.stderr, "usage: accord init [--config FILE] [--data DIR]")
		return errUsage
	}
	c, err := nf.load()
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if requireNode(c) == nil {
		fmt.Fprintf(e.stdout, "%s already holds a node\n", c.Data)
		return nil
	}
	lock, key, st, err := openNodeFolder(ctx, c)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	defer st.Close()
	// The DKIM key too, so that both keys can be copied to the node's
	// other instances before any of them serves.
	mq, err := openOutbound(c, st, key, e.log)
	if err != nil {
		return err
	}
	if err := pinDKIM(ctx, c, st, mq, false); err != nil {
		return err
	}
	_, rec, err := mq.DNSRecord()
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "node created in %s, node key fingerprint %s, DKIM key fingerprint %s\n", c.Data, key.Fingerprint(), recordPrint(rec))
	return nil
}

// withStore opens the node's store for one command.
func withStore(ctx context.Context, nf *nodeFlags, f func(*sqlstore.Store) error) error {
	c, err := nf.loadNode()
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	st, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	return f(st)
}

func cmdNode(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] != "key" && args[0] != "dkim" && args[0] != "fingerprint" {
		fmt.Fprintln(e.stderr, "usage: accord node key [--data DIR]    (print the node's public key)")
		fmt.Fprintln(e.stderr, "       accord node fingerprint [--data DIR] (print the key's fingerprint, to compare with a bundle's signer)")
		fmt.Fprintln(e.stderr, "       accord node dkim [--config FILE] [--adopt] (print the DNS TXT record of the node's DKIM key;")
		fmt.Fprintln(e.stderr, "                                  --adopt: make this data folder's dkim.key the one every instance must sign with)")
		return errUsage
	}
	fset, nf := nodeFlagSet(e, "node "+args[0])
	adopt := false
	if args[0] == "dkim" {
		fset.BoolVar(&adopt, "adopt", false, "make this data folder's DKIM key the node's (after publishing its record)")
	}
	if err := fset.Parse(args[1:]); err != nil || fset.NArg() > 0 {
		return errUsage
	}
	c, err := nf.loadNode()
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if args[0] == "dkim" {
		return cmdNodeDKIM(ctx, e, c, adopt)
	}
	k, err := nodekey.LoadOrCreate(c.Data)
	if err != nil {
		return err
	}
	if args[0] == "fingerprint" {
		fmt.Fprintln(e.stdout, k.Fingerprint())
		return nil
	}
	fmt.Fprintln(e.stdout, k.Public())
	return nil
}

// observeIntake feeds the desk's submissions and commits to the metrics.
// A replay stored nothing and took no commit: it is counted nowhere. A
// submitter's mistake (Rejected) counts as a rejected complaint, never
// as an error of the node.
func observeIntake(m *metrics.Metrics) func(intake.Observation) {
	return func(o intake.Observation) {
		if o.Commit {
			m.Committed(o.Reports, o.Duration, o.Err)
			return
		}
		if o.Replayed {
			return
		}
		m.Submitted(string(o.Channel), o.Reports, o.Duration, o.Rejected, o.Err)
	}
}

// statsNoise maps the configuration (0: none) to web's (0: default).
func statsNoise(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// retention is the privacy section's retention for the desk.
func retention(c config.Config) intake.Retention {
	i, e, st := c.Retention()
	return intake.Retention{Identity: i, Evidence: e, Statistics: st, Mail: c.MailRetention()}
}

// purgeLoop applies the retention at start and then every interval, and
// expires the pending consent records past their confirmation link's
// life.
func purgeLoop(ctx context.Context, desk *intake.Desk, mq *outbound.Queue, senders *consent.Service, r intake.Retention, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		p, err := desk.Purge(ctx, r)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("retention: purge", "err", err)
		case p != (intake.Purged{}):
			log.Info("retention: purged", "identities", p.Identities, "evidence", p.Evidence, "reports", p.Reports)
		}
		n, err := mq.Purge(ctx, r.Mail)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("retention: purge outbound mail", "err", err)
		case n > 0:
			log.Info("retention: purged outbound mail", "mails", n)
		}
		n, err = senders.ExpirePending(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("retention: expire pending consent records", "err", err)
		case n > 0:
			log.Info("retention: expired pending consent records", "records", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// reporterAuth authenticates the address that sent a complaint to the
// mailbox (SPF, or DKIM aligned with it) through the node's resolver.
func reporterAuth(r resolve.Resolver, log *slog.Logger) func(ctx context.Context, ip, helo, from string, raw []byte) string {
	return func(ctx context.Context, ip, helo, from string, raw []byte) string {
		addr, err := netip.ParseAddr(ip)
		if err != nil {
			return ""
		}
		how, err := mailauth.EnvelopeSender(ctx, r, addr, helo, from, mail.ParseBytes(raw, mail.Limits{MaxBytes: 4 << 20}))
		if err != nil {
			log.Warn("authenticate a complaint's sender", "err", err)
		}
		return how
	}
}
