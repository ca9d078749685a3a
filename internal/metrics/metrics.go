// Package metrics is the node's figures for operators, in the Prometheus
// exposition format (the Prometheus Go client): intake rate and latency,
// the commit queue, HTTP requests and errors, the outbound mail queue.
// Nothing in it names a report, a reporter or a message: only counts and
// times, labelled by channel, route pattern and component.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics holds the node's collectors, in a registry of its own (no
// global state: two nodes in one test process do not mix).
type Metrics struct {
	reg         *prometheus.Registry
	received    *prometheus.CounterVec
	rejected    *prometheus.CounterVec
	submit      *prometheus.HistogramVec
	commit      prometheus.Histogram
	commitBatch prometheus.Histogram
	errors      *prometheus.CounterVec
	httpReqs    *prometheus.CounterVec
	httpDur     *prometheus.HistogramVec
}

// New builds the collectors, with the Go runtime's and the process's.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	lat := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}
	m.received = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "accord_reports_received_total",
		Help: "Reports stored, by the channel they came through (smtp, api, web)."}, []string{"channel"})
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "accord_complaints_rejected_total",
		Help: "Complaints refused as the submitter's mistake (no message to report, damaged evidence, another report type, a reused idempotency key), by channel."}, []string{"channel"})
	m.submit = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "accord_intake_submit_seconds",
		Help: "Time from a complaint's arrival at the desk to its durable commit (analysis, queue, commit), by channel.", Buckets: lat}, []string{"channel"})
	m.commit = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "accord_intake_commit_seconds",
		Help: "Time of one group commit of complaints to the store.", Buckets: lat})
	m.commitBatch = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "accord_intake_commit_complaints",
		Help: "Complaints per group commit.", Buckets: []float64{1, 2, 4, 8, 16, 32, 64}})
	m.errors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "accord_errors_total",
		Help: "Failures, by component (intake_commit, http_5xx, handler_panic, milter_panic, rspamd_panic, spamd_panic, outbound, …)."}, []string{"component"})
	m.httpReqs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "accord_http_requests_total",
		Help: "HTTP requests, by route pattern and status code."}, []string{"route", "code"})
	m.httpDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "accord_http_request_duration_seconds",
		Help: "HTTP request duration, by route pattern.", Buckets: lat}, []string{"route"})
	m.reg.MustRegister(m.received, m.rejected, m.submit, m.commit, m.commitBatch, m.errors, m.httpReqs, m.httpDur,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Submitted records one complaint's passage through the desk: a
// rejected one is the submitter's mistake (counted apart, never an
// error); an error otherwise is the node's failure.
func (m *Metrics) Submitted(channel string, reports int, d time.Duration, rejected bool, err error) {
	switch {
	case rejected:
		m.rejected.WithLabelValues(channel).Inc()
	case err != nil:
		m.errors.WithLabelValues("intake_submit").Inc()
	default:
		m.received.WithLabelValues(channel).Add(float64(reports))
		m.submit.WithLabelValues(channel).Observe(d.Seconds())
	}
}

// Committed records one group commit.
func (m *Metrics) Committed(complaints int, d time.Duration, err error) {
	if err != nil {
		m.errors.WithLabelValues("intake_commit").Inc()
		return
	}
	m.commit.Observe(d.Seconds())
	m.commitBatch.Observe(float64(complaints))
}

// Error counts a failure of a component.
func (m *Metrics) Error(component string) { m.errors.WithLabelValues(component).Inc() }

// HTTP records one request by its route pattern ("GET /r/{id}": bounded
// cardinality, no ids), status and duration.
func (m *Metrics) HTTP(route string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	m.httpReqs.WithLabelValues(route, strconv.Itoa(status)).Inc()
	m.httpDur.WithLabelValues(route).Observe(d.Seconds())
	if status >= 500 {
		m.errors.WithLabelValues("http_5xx").Inc()
	}
}

// Gauge exposes a value read at each scrape (the commit queue's depth).
func (m *Metrics) Gauge(name, help string, read func() float64) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, read))
}

// Counter exposes a count kept elsewhere, read at each scrape (the
// store's restarted commits).
func (m *Metrics) Counter(name, help string, read func() float64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, read))
}

// GaugeSet exposes values of one label read at each scrape (the outbound
// queue by state). A read error is a scrape error, not a zero.
func (m *Metrics) GaugeSet(name, help, label string, read func() (map[string]float64, error)) {
	m.reg.MustRegister(&setCollector{desc: prometheus.NewDesc(name, help, []string{label}, nil), read: read})
}

type setCollector struct {
	desc *prometheus.Desc
	read func() (map[string]float64, error)
}

func (c *setCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *setCollector) Collect(ch chan<- prometheus.Metric) {
	vals, err := c.read()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for k, v := range vals {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v, k)
	}
}

// Handler serves the exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}
