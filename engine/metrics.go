package engine

import (
	"bytes"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// Registry holds the metrics of every bucket opened with Options.Metrics in
// this process, each series labelled by bucket id and storage path. It is
// separate from prometheus.DefaultRegistry so the library adds nothing to a
// host's own registry unless asked.
var Registry = prometheus.NewRegistry()

var metricLabels = []string{"bucket", "path"}

// The metric families; names follow the contract (api-contract.md §6).
var (
	recordsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "persisting_records_total", Help: "Records appended to the bucket.",
	}, metricLabels)
	bufferSize = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "persisting_buffer_size", Help: "Records buffered in memory, not yet flushed to Lance.",
	}, metricLabels)
	flushDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "persisting_flush_duration_seconds", Help: "Time to commit the buffer as one Lance version.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
	}, metricLabels)
	walSizeBytes = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "persisting_wal_size_bytes", Help: "Size of the write-ahead log on disk.",
	}, metricLabels)
	flushesTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "persisting_flushes_total", Help: "Lance versions committed by flushes.",
	}, metricLabels)
	flushedRecordsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "persisting_flushed_records_total", Help: "Records committed to Lance by flushes.",
	}, metricLabels)
	errorsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "persisting_errors_total", Help: "Failed operations, by operation.",
	}, append(metricLabels, "op"))
	walReplayedTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "persisting_wal_replayed_records_total", Help: "Records recovered from the write-ahead log at open.",
	}, metricLabels)
)

func init() {
	Registry.MustRegister(recordsTotal, bufferSize, flushDuration, walSizeBytes,
		flushesTotal, flushedRecordsTotal, errorsTotal, walReplayedTotal)
}

// bucketMetrics are one bucket's series; a nil *bucketMetrics records nothing,
// so buckets without metrics pay one nil check per event.
type bucketMetrics struct {
	labels prometheus.Labels
	// appended's series, looked up once: three Withs cost as much as the rest of a put.
	records           prometheus.Counter
	buffered, walSize prometheus.Gauge
}

// newBucketMetrics creates the bucket's counters and histograms at open, at
// zero, so a scraper (and get_metrics) sees an idle bucket's metrics, not an
// absent one; the dataset gauges follow at open (opened), errors at a failure.
func newBucketMetrics(o Options) *bucketMetrics {
	if !o.Metrics {
		return nil
	}
	labels := prometheus.Labels{"bucket": strconv.FormatInt(o.BucketID, 10), "path": o.Path}
	for _, c := range []*prometheus.CounterVec{flushesTotal, flushedRecordsTotal, walReplayedTotal,
		autoFlushesTotal, compactionsTotal, compactedFragmentsTotal, versionsRemovedTotal,
		filesRemovedTotal, bytesReclaimedTotal, retentionDroppedTotal} {
		c.With(labels)
	}
	flushDuration.With(labels)
	compactionDuration.With(labels)
	return &bucketMetrics{labels: labels, records: recordsTotal.With(labels),
		buffered: bufferSize.With(labels), walSize: walSizeBytes.With(labels)}
}

func (m *bucketMetrics) appended(records int64, buffered int64, walSize int64) {
	if m == nil {
		return
	}
	m.records.Add(float64(records))
	m.buffered.Set(float64(buffered))
	m.walSize.Set(float64(walSize))
}

func (m *bucketMetrics) flushed(records int64, took time.Duration, buffered int64, walSize int64) {
	if m == nil {
		return
	}
	flushDuration.With(m.labels).Observe(took.Seconds())
	flushesTotal.With(m.labels).Inc()
	flushedRecordsTotal.With(m.labels).Add(float64(records))
	bufferSize.With(m.labels).Set(float64(buffered))
	walSizeBytes.With(m.labels).Set(float64(walSize))
}

func (m *bucketMetrics) replayed(records int64, buffered int64, walSize int64) {
	if m == nil {
		return
	}
	walReplayedTotal.With(m.labels).Add(float64(records))
	bufferSize.With(m.labels).Set(float64(buffered))
	walSizeBytes.With(m.labels).Set(float64(walSize))
}

func (m *bucketMetrics) failed(op string) {
	if m == nil {
		return
	}
	errorsTotal.With(prometheus.Labels{"bucket": m.labels["bucket"], "path": m.labels["path"], "op": op}).Inc()
}

// forget drops the bucket's series when it closes, so a long-lived process
// that opens many buckets does not grow its registry without bound.
func (m *bucketMetrics) forget() {
	if m == nil {
		return
	}
	for _, v := range []*prometheus.MetricVec{recordsTotal.MetricVec, bufferSize.MetricVec,
		flushDuration.MetricVec, walSizeBytes.MetricVec, flushesTotal.MetricVec,
		flushedRecordsTotal.MetricVec, walReplayedTotal.MetricVec} {
		v.Delete(m.labels)
	}
	errorsTotal.DeletePartialMatch(m.labels)
	m.forgetMaintenance()
}

// values returns this bucket's current metric values by metric name: counters
// and gauges as numbers, the histogram as {count, sum}.
func (m *bucketMetrics) values() (map[string]any, error) {
	if m == nil {
		return nil, nil
	}
	families, err := Registry.Gather()
	if err != nil {
		return nil, err
	}
	out := map[string]any{}
	for _, fam := range families {
		for _, metric := range fam.GetMetric() {
			if !m.owns(metric) {
				continue
			}
			name := fam.GetName()
			switch {
			case metric.Counter != nil:
				if op := labelValue(metric, "op"); op != "" {
					name += "{op=" + op + "}"
				}
				out[name] = metric.Counter.GetValue()
			case metric.Gauge != nil:
				out[name] = metric.Gauge.GetValue()
			case metric.Histogram != nil:
				out[name] = map[string]any{
					"count": metric.Histogram.GetSampleCount(),
					"sum":   metric.Histogram.GetSampleSum(),
				}
			}
		}
	}
	return out, nil
}

func (m *bucketMetrics) owns(metric *dto.Metric) bool {
	return labelValue(metric, "bucket") == m.labels["bucket"] && labelValue(metric, "path") == m.labels["path"]
}

func labelValue(metric *dto.Metric, name string) string {
	for _, l := range metric.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// MetricsText renders every bucket's metrics in the Prometheus text
// exposition format, as a scraper reads it.
func MetricsText() ([]byte, error) {
	families, err := Registry.Gather()
	if err != nil {
		return nil, fmt.Errorf("engine: gather metrics: %w", err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, fam := range families {
		if err := enc.Encode(fam); err != nil {
			return nil, fmt.Errorf("engine: encode metrics: %w", err)
		}
	}
	return buf.Bytes(), nil
}
