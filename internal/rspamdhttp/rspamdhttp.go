// Package rspamdhttp is the filter's rspamd-compatible HTTP door, so that
// Exim (spamd_address … variant=rspamd), Haraka, rspamd's own proxy and
// rspamc work unchanged: POST /checkv2 (also /check and /symbols) with
// rspamd's request headers — IP, Helo, Hostname, From, Rcpt (repeated),
// User, Deliver-To, Queue-Id — and its JSON answer (action, score,
// required_score, symbols with score and description, milter add/remove
// headers, messages.smtp_message); POST /learnspam and /learnham; GET
// /ping; GET /stat.
//
// Actions: "no action" (ham, and unsure, which is tagged through the
// milter headers), "add header" (spam, tagged), "discard" (held in the
// node's quarantine: the MTA must drop its copy; rspamd's custom action of
// that name), "reject" (with the reason and reference in
// messages.smtp_message). With several recipients one answer covers all:
// the mildest of their outcomes, so none loses mail they wanted, and the
// copy tagged with the strictest of their verdicts, so none loses a tag.
package rspamdhttp

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/accord-antispam/accord/internal/classify"
	"github.com/accord-antispam/accord/internal/connlimit"
	"github.com/accord-antispam/accord/internal/filter"
)

// Handler serves the rspamd protocol for a filter.
type Handler struct {
	F *filter.Service
	// LearnPassword, when set, is required in the Password header of learn
	// requests (as rspamd's controller password); otherwise anyone who can
	// reach the listener may teach the filter.
	LearnPassword string
	// Allowed are the clients served besides loopback (filter.ClientAllowed);
	// without LearnPassword, only loopback clients may teach the filter.
	Allowed   []netip.Prefix
	Log       *slog.Logger
	scanned   atomic.Int64
	learned   atomic.Int64
	spam, ham atomic.Int64
	started   time.Time
}

// NewHandler returns a handler.
func NewHandler(f *filter.Service, learnPassword string, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{F: f, LearnPassword: learnPassword, Log: log, started: time.Now()}
}

// Routes returns the protocol's routes.
func (h *Handler) Routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "pong\r\n")
	})
	for _, p := range []string{"/checkv2", "/check", "/symbols"} {
		mux.HandleFunc("POST "+p, h.check)
	}
	mux.HandleFunc("POST /learnspam", func(w http.ResponseWriter, r *http.Request) { h.learn(w, r, true) })
	mux.HandleFunc("POST /learnham", func(w http.ResponseWriter, r *http.Request) { h.learn(w, r, false) })
	mux.HandleFunc("GET /stat", h.stat)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		jsonError(w, http.StatusNotFound, "unknown command "+r.URL.Path)
	})
	return mux
}

// guard refuses clients that are neither loopback nor allowed.
func (h *Handler) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !filter.ClientAllowed(r.RemoteAddr, h.Allowed) {
			jsonError(w, http.StatusForbidden, "this client is not in [filter] allowed_ips")
			return
		}
		// A fault outside the decision (which Guarded answers): logged
		// with its stack and counted, and a 500 instead of net/http's
		// closed connection.
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				h.F.Recovered("rspamd", p)
				jsonError(w, http.StatusInternalServerError, "the filter failed on this request")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// Server returns an http.Server with bounds against slow and hostile
// clients.
func (h *Handler) Server() *http.Server {
	return &http.Server{Handler: h.guard(h.Routes()), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 2 * time.Minute,
		WriteTimeout: 2 * time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
		ErrorLog: slog.NewLogLogger(h.Log.Handler(), slog.LevelWarn), ConnContext: connlimit.WithConn}
}

// Limit bounds the connections l keeps (connlimit): at most max at once
// (0: 512) and perIP from one client address (0: 128). A connection over the
// bound from one address is answered 429 Too Many Requests, one over the
// bound in all 503 Service Unavailable, both with Retry-After, before its
// request is read — unless a connection has waited on its client for a
// second or more (idle keep-alive, a stalled request), which is closed to
// make room instead: the MTA shares 127.0.0.1 with every local user.
func (h *Handler) Limit(l net.Listener, max, perIP int) net.Listener {
	if max <= 0 {
		max = 512
	}
	if perIP <= 0 {
		perIP = 128
	}
	// At a bound the connection waiting longest on its client (idle
	// keep-alive, a stalled body; not one being scanned) makes room.
	return connlimit.Wrap(l, connlimit.Limits{Max: max, PerIP: perIP, Log: h.Log, Refuse: refuse, Evict: true})
}

func refuse(c net.Conn, why string) {
	status := "503 Service Unavailable"
	if why == connlimit.OverPerIP {
		status = "429 Too Many Requests"
	}
	body, _ := json.Marshal(map[string]string{"error": why + ", try again later"})
	fmt.Fprintf(c, "HTTP/1.1 %s\r\nContent-Type: application/json\r\nRetry-After: 1\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", status, len(body), body)
}

type symbolJSON struct {
	Name        string   `json:"name"`
	Score       float64  `json:"score"`
	MetricScore float64  `json:"metric_score"`
	Description string   `json:"description,omitempty"`
	Options     []string `json:"options,omitempty"`
}

type headerJSON struct {
	Value string `json:"value"`
	Order int    `json:"order"`
}

type milterJSON struct {
	AddHeaders    map[string]headerJSON `json:"add_headers,omitempty"`
	RemoveHeaders map[string]int        `json:"remove_headers,omitempty"`
	Reject        string                `json:"reject,omitempty"`
}

// Result is the /checkv2 answer.
type Result struct {
	IsSkipped     bool                  `json:"is_skipped"`
	Score         float64               `json:"score"`
	RequiredScore float64               `json:"required_score"`
	Action        string                `json:"action"`
	Thresholds    map[string]float64    `json:"thresholds"`
	Symbols       map[string]symbolJSON `json:"symbols"`
	Messages      map[string]string     `json:"messages"`
	MessageID     string                `json:"message-id,omitempty"`
	TimeReal      float64               `json:"time_real"`
	Milter        *milterJSON           `json:"milter,omitempty"`
	URLs          []string              `json:"urls,omitempty"`
	Emails        []string              `json:"emails,omitempty"`
	// Accord's own: the decision's reference and the outcome per
	// recipient.
	Reference  string            `json:"accord_reference"`
	Recipients map[string]string `json:"accord_recipients,omitempty"`
}

// Actions of the rspamd protocol for each outcome.
var actions = map[string]string{
	filter.OutcomeOff: "no action", filter.OutcomeHam: "no action", filter.OutcomeUnsure: "no action",
	filter.OutcomeSpam: "add header", filter.OutcomeQuarantine: "discard", filter.OutcomeReject: "reject",
}

func envelope(r *http.Request) filter.Envelope {
	env := filter.Envelope{Helo: r.Header.Get("Helo"), Hostname: r.Header.Get("Hostname"), MailFrom: strings.Trim(r.Header.Get("From"), "<> "),
		User: r.Header.Get("User"), QueueID: r.Header.Get("Queue-Id"), DeliverTo: strings.Trim(r.Header.Get("Deliver-To"), "<> ")}
	if ip, err := netip.ParseAddr(strings.Trim(r.Header.Get("IP"), "[] ")); err == nil {
		env.IP = ip.Unmap()
	}
	// rspamd's MTA integrations send "unknown" for a client whose
	// address has no reverse name (rspamd's own HFILTER_HOSTNAME_UNKNOWN).
	if strings.EqualFold(strings.TrimSpace(env.Hostname), "unknown") {
		env.Hostname, env.NoRDNS = "", env.IP.IsValid()
	}
	for _, v := range r.Header.Values("Rcpt") {
		for _, a := range strings.Split(v, ",") {
			if a = strings.Trim(strings.TrimSpace(a), "<>"); a != "" {
				env.Rcpts = append(env.Rcpts, a)
			}
		}
	}
	return env
}

// maxDrain is the most a request over the scan size is read (and
// discarded) so that its client gets the answer; a request that declares
// more is refused with 413 before any of it is read.
const maxDrain = 256 << 20

// reserve takes the body's share of the doors' byte budget before the
// body is read (its Content-Length, or the most readBody keeps), returned
// by release once the request is answered; without it the answer is 503
// busy and the body is not read.
func (h *Handler) reserve(w http.ResponseWriter, r *http.Request, max int64) (release func(), ok bool) {
	n := r.ContentLength
	if n < 0 || n > max {
		n = max + 1
	}
	if !h.F.Reserve(r.Context(), n) {
		w.Header().Set("Retry-After", "1")
		jsonError(w, http.StatusServiceUnavailable, "the filter is busy, try again later")
		return nil, false
	}
	return func() { h.F.Unreserve(n) }, true
}

// readBody reads at most limit bytes; over reports whether there was more.
func readBody(r *http.Request, limit int64) ([]byte, bool, error) {
	if n := r.ContentLength; n >= 0 && n <= limit {
		// The size is known (and within the budget reserved for it): one
		// buffer of that size, not ReadAll's growing copies.
		b := make([]byte, n)
		if _, err := io.ReadFull(r.Body, b); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, false, err
		}
		return b, false, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, false, err
	}
	if int64(len(b)) > limit {
		return b[:limit], true, nil
	}
	return b, false, nil
}

// compressed reports whether the client compressed the body (rspamc
// --compressed: zstd), which this door does not decode: scanning the
// compressed bytes would pass anything, so such a request is refused.
func compressed(r *http.Request) bool {
	if r.Header.Get("Compression") != "" || (r.Header.Get("Content-Encoding") != "" && !strings.EqualFold(r.Header.Get("Content-Encoding"), "identity")) {
		return true
	}
	for _, f := range strings.Split(r.Header.Get("Flags"), ",") {
		if strings.EqualFold(strings.TrimSpace(f), "zstd") {
			return true
		}
	}
	return false
}

func (h *Handler) check(w http.ResponseWriter, r *http.Request) {
	if compressed(r) {
		jsonError(w, http.StatusUnsupportedMediaType, "compressed requests are not supported: send the message uncompressed (rspamc without --compressed)")
		return
	}
	if env := envelope(r); len(env.Rcpts) > filter.MaxRecipients {
		jsonError(w, http.StatusBadRequest, filter.TooManyRecipients())
		return
	}
	if ip := strings.Trim(r.Header.Get("IP"), "[] "); ip != "" {
		if _, err := netip.ParseAddr(ip); err != nil {
			// Left out silently, the client's address — the trust
			// boundary's top hop, SPF, the blocklists — was unknown.
			jsonError(w, http.StatusBadRequest, fmt.Sprintf("IP header %q is not an IP address", ip))
			return
		}
	}
	if r.ContentLength > maxDrain {
		// More than the door would ever read: answered at once, not after
		// waiting for a body that may never come (as spamd's door does).
		jsonError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("message of %d bytes: this door reads at most %d", r.ContentLength, int64(maxDrain)))
		return
	}
	max := h.F.Config().MaxScan
	release, ok := h.reserve(w, r, max)
	if !ok {
		return
	}
	defer release()
	raw, over, err := readBody(r, max)
	if err != nil {
		jsonError(w, http.StatusBadRequest, "cannot read the message: "+err.Error())
		return
	}
	if len(raw) == 0 {
		jsonError(w, http.StatusBadRequest, "empty message")
		return
	}
	if over {
		raw = append(raw, 'x') // over the scan size: Check skips it
		io.Copy(io.Discard, io.LimitReader(r.Body, maxDrain))
	}
	defer connlimit.BusyCtx(r.Context())() // scanning: not idle for eviction
	env := envelope(r)
	start := time.Now()
	d, err := h.F.Guarded(r.Context(), "rspamd", raw, env)
	if err != nil {
		jsonError(w, http.StatusServiceUnavailable, "the filter could not decide: "+err.Error())
		return
	}
	if d.Skipped == filter.SkippedError && h.F.TimedOut(d) {
		// The decision failed (a fault, logged and counted) and the
		// filter is set to tempfail: as for a busy filter.
		w.Header().Set("Retry-After", "1")
		jsonError(w, http.StatusServiceUnavailable, "the filter failed on this message, try again later (reference "+d.Reference+")")
		return
	}
	if d.Busy() {
		// Every scan slot is taken: the MTA tries again later (Exim
		// defers, rspamd's proxy applies its default action).
		w.Header().Set("Retry-After", "1")
		jsonError(w, http.StatusServiceUnavailable, "the filter is busy, try again later (reference "+d.Reference+")")
		return
	}
	h.scanned.Add(1)
	outcome := d.Outcome
	res := Result{Score: d.ListedScore(), RequiredScore: d.Required, Action: actions[outcome], IsSkipped: d.Skipped != "",
		Thresholds: map[string]float64{"add header": d.Required}, Symbols: map[string]symbolJSON{}, Messages: map[string]string{},
		Reference: d.Reference, Recipients: map[string]string{}}
	if s := filterThreshold(d); s > 0 {
		res.Thresholds["discard"] = s
	}
	restricted := 0.0
	for _, sy := range d.AllSymbols() {
		if sy.Restricted {
			restricted += sy.Score
			continue
		}
		res.Symbols[sy.Name] = symbolJSON{Name: sy.Name, Score: sy.Score, MetricScore: sy.Score, Description: sy.Description, Options: sy.Options}
	}
	if restricted != 0 {
		res.Symbols["ACCORD_INTEL_RESTRICTED"] = symbolJSON{Name: "ACCORD_INTEL_RESTRICTED", Score: restricted, MetricScore: restricted,
			Description: "indicators shared under TLP:AMBER or above (details on the node)"}
	}
	for _, rd := range d.Recipients {
		if rd.Recipient != "" {
			res.Recipients[rd.Recipient] = rd.Outcome
		}
	}
	if v := d.Verdict(); v != nil {
		res.MessageID = v.Message.MessageID
		for _, u := range v.Content.URLs {
			res.URLs = append(res.URLs, u.URL)
		}
		res.Emails = v.Content.Emails
	}
	switch outcome {
	case filter.OutcomeReject:
		res.Messages["smtp_message"] = h.F.RejectText(d)
	case filter.OutcomeQuarantine:
		var rcpts []string
		for _, rd := range d.Recipients {
			rcpts = append(rcpts, rd.Recipient)
		}
		// One answer for all: held for all of them, or (a quarantine
		// quota reached) delivered tagged as spam to all.
		over, err := h.F.OverQuota(r.Context(), d, rcpts)
		if err != nil {
			jsonError(w, http.StatusServiceUnavailable, "the quarantine could not keep the message: "+err.Error())
			return
		}
		if len(over) > 0 {
			outcome = filter.OutcomeSpam
			res.Action = actions[outcome]
			res.Messages["accord"] = "quarantine quota reached: delivered tagged as spam (reference " + d.Reference + ")"
			break
		}
		if _, err := h.F.Quarantine(r.Context(), d, rcpts); err != nil {
			jsonError(w, http.StatusServiceUnavailable, "the quarantine could not keep the message: "+err.Error())
			return
		}
		res.Messages["smtp_message"] = "held in quarantine (reference " + d.Reference + ")"
	}
	m := &milterJSON{AddHeaders: map[string]headerJSON{}, RemoveHeaders: map[string]int{}}
	for _, n := range filter.RemoveHeaders {
		m.RemoveHeaders[n] = 0
	}
	for _, n := range h.F.ForgedIn(d) {
		m.RemoveHeaders[n] = 0 // every instance of another filter's verdict field
	}
	// Authentication-Results in our name: by its 1-based position when
	// there is one; when there are several, every Authentication-Results
	// (0): the protocol names one position per field name, and at a door
	// none in the message is believed anyway (docs/filter.md).
	if own, total := h.F.OwnAuthResultsIn(d); len(own) == 1 && total > 1 {
		m.RemoveHeaders["Authentication-Results"] = own[0]
	} else if len(own) > 0 {
		m.RemoveHeaders["Authentication-Results"] = 0
	}
	for _, hd := range h.F.Headers(d, headerOutcome(d, outcome)) {
		m.AddHeaders[hd.Name] = headerJSON{Value: strings.ReplaceAll(hd.Value, "\n\t", " "), Order: 0}
	}
	if outcome == filter.OutcomeQuarantine {
		m.Reject = "discard"
	}
	res.Milter = m
	res.TimeReal = time.Since(start).Seconds()
	w.Header().Set("Content-Type", "application/json")
	if b, ok := appendJSON(make([]byte, 0, 4096), &res); ok {
		b = append(b, '\n') // as json.Encoder ends it
		// Its length, as rspamd sends it: an answer over net/http's
		// buffer went out chunked, more work at both ends.
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.Write(b)
		return
	}
	json.NewEncoder(w).Encode(res)
}

// headerOutcome is the tag the delivered copy carries. The action is the
// mildest recipient's (nobody loses mail they wanted), but every
// recipient gets the same copy: it carries the strictest verdict among
// them, so one lenient co-recipient (filtering off, a high threshold)
// strips the spam tag from nobody else's copy. A recipient who would hold
// or refuse it sees it tagged as spam.
func headerOutcome(d *filter.Decision, outcome string) string {
	if outcome == filter.OutcomeQuarantine || outcome == filter.OutcomeReject {
		return outcome
	}
	rank := map[string]int{filter.OutcomeOff: 0, filter.OutcomeHam: 1, filter.OutcomeUnsure: 2, filter.OutcomeSpam: 3,
		filter.OutcomeQuarantine: 3, filter.OutcomeReject: 3}
	best := outcome
	for _, rd := range d.Recipients {
		if rank[rd.Outcome] > rank[best] {
			best = rd.Outcome
		}
	}
	if rank[best] == 3 {
		return filter.OutcomeSpam
	}
	return best
}

// filterThreshold is the quarantine threshold of the deciding policy, for
// the thresholds map (0 when none).
func filterThreshold(d *filter.Decision) float64 {
	for _, rd := range d.Recipients {
		if rd.Outcome == d.Outcome {
			return rd.Policy.Quarantine
		}
	}
	return 0
}

func (h *Handler) learn(w http.ResponseWriter, r *http.Request, spam bool) {
	if h.LearnPassword != "" {
		pw := r.Header.Get("Password")
		if subtle.ConstantTimeCompare([]byte(pw), []byte(h.LearnPassword)) != 1 {
			jsonError(w, http.StatusForbidden, "learning needs the controller password")
			return
		}
	} else if !filter.ClientAllowed(r.RemoteAddr, nil) {
		jsonError(w, http.StatusForbidden, "learning from another host needs [filter] learn_password (rspamc's Password header)")
		return
	}
	if compressed(r) {
		jsonError(w, http.StatusUnsupportedMediaType, "compressed requests are not supported: send the message uncompressed (rspamc without --compressed)")
		return
	}
	release, ok := h.reserve(w, r, h.F.Config().MaxScan)
	if !ok {
		return
	}
	defer release()
	raw, over, err := readBody(r, h.F.Config().MaxScan)
	if err != nil || len(raw) == 0 {
		jsonError(w, http.StatusBadRequest, "no message to learn")
		return
	}
	defer connlimit.BusyCtx(r.Context())()
	if over {
		jsonError(w, http.StatusRequestEntityTooLarge, "the message is over the scan size")
		return
	}
	out, err := h.F.Learn(r.Context(), raw, spam, "rspamd")
	if errors.Is(err, filter.ErrNotMail) {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err != nil {
		jsonError(w, http.StatusInternalServerError, err.Error())
		return
	}
	h.learned.Add(1)
	if spam {
		h.spam.Add(1)
	} else {
		h.ham.Add(1)
	}
	w.Header().Set("Content-Type", "application/json")
	if out == classify.Known {
		// rspamd answers 208 for a message already learned as this class.
		w.WriteHeader(http.StatusAlreadyReported)
		json.NewEncoder(w).Encode(map[string]any{"error": "already learned as " + class(spam), "success": false})
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"success": true})
}

func class(spam bool) string {
	if spam {
		return "spam"
	}
	return "ham"
}

func (h *Handler) stat(w http.ResponseWriter, r *http.Request) {
	ns, nh := h.F.Model().Trained()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"scanned": h.scanned.Load(), "learned": h.learned.Load(), "spam_count": ns, "ham_count": nh,
		"uptime": int64(time.Since(h.started).Seconds()), "version": "accord", "read_only": false,
		"statfiles":    []map[string]any{{"symbol": "ACCORD_BAYES_SPAM", "type": "accord", "revision": ns, "users": 1}, {"symbol": "ACCORD_BAYES_HAM", "type": "accord", "revision": nh, "users": 1}},
		"total_learns": ns + nh,
	})
}

func jsonError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}
