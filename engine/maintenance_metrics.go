package engine

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric families of the background work (background.go), in Registry
// with the bucket's labels like the others.
var (
	autoFlushesTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "persisting_auto_flushes_total", Help: "Flushes made because buffered records reached the maximum flush delay.",
	}, metricLabels)
	compactionsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "persisting_compactions_total", Help: "Compactions committed by background maintenance.",
	}, metricLabels)
	compactedFragmentsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "persisting_compacted_fragments_total", Help: "Fragments rewritten into larger ones by background compaction.",
	}, metricLabels)
	compactionDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "persisting_compaction_duration_seconds", Help: "Time of one background compaction.",
		Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
	}, metricLabels)
	versionsRemovedTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "persisting_versions_removed_total", Help: "Old dataset versions removed by background cleanup.",
	}, metricLabels)
	filesRemovedTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "persisting_files_removed_total", Help: "Data, deletion and transaction files removed by background cleanup.",
	}, metricLabels)
	bytesReclaimedTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "persisting_bytes_reclaimed_total", Help: "Bytes of files removed by background cleanup.",
	}, metricLabels)
	retentionDroppedTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "persisting_retention_dropped_records_total", Help: "Records dropped by data retention.",
	}, metricLabels)
	firstRetainedOffset = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "persisting_first_retained_offset", Help: "Offset of the oldest record still stored.",
	}, metricLabels)
	retainedRecords = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "persisting_retained_records", Help: "Records stored in the dataset (flushed and not dropped by retention).",
	}, metricLabels)
	datasetFragments = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "persisting_fragments", Help: "Fragments of the newest dataset version.",
	}, metricLabels)
)

var maintenanceFamilies = []*prometheus.MetricVec{
	autoFlushesTotal.MetricVec, compactionsTotal.MetricVec, compactedFragmentsTotal.MetricVec,
	compactionDuration.MetricVec, versionsRemovedTotal.MetricVec, filesRemovedTotal.MetricVec,
	bytesReclaimedTotal.MetricVec, retentionDroppedTotal.MetricVec, firstRetainedOffset.MetricVec,
	retainedRecords.MetricVec, datasetFragments.MetricVec,
}

func init() {
	Registry.MustRegister(autoFlushesTotal, compactionsTotal, compactedFragmentsTotal, compactionDuration,
		versionsRemovedTotal, filesRemovedTotal, bytesReclaimedTotal, retentionDroppedTotal,
		firstRetainedOffset, retainedRecords, datasetFragments)
}

func (m *bucketMetrics) autoFlushed() {
	if m == nil {
		return
	}
	autoFlushesTotal.With(m.labels).Inc()
}

func (m *bucketMetrics) compacted(fragments int, took time.Duration) {
	if m == nil {
		return
	}
	compactionsTotal.With(m.labels).Inc()
	compactedFragmentsTotal.With(m.labels).Add(float64(fragments))
	compactionDuration.With(m.labels).Observe(took.Seconds())
}

func (m *bucketMetrics) cleanedUp(versions, files int, bytes int64) {
	if m == nil {
		return
	}
	versionsRemovedTotal.With(m.labels).Add(float64(versions))
	filesRemovedTotal.With(m.labels).Add(float64(files))
	bytesReclaimedTotal.With(m.labels).Add(float64(bytes))
}

func (m *bucketMetrics) dropped(records int64) {
	if m == nil {
		return
	}
	retentionDroppedTotal.With(m.labels).Add(float64(records))
}

// retained records the newest version's retained range and fragment count.
func (m *bucketMetrics) retained(first, records int64, fragments int) {
	if m == nil {
		return
	}
	firstRetainedOffset.With(m.labels).Set(float64(first))
	retainedRecords.With(m.labels).Set(float64(records))
	datasetFragments.With(m.labels).Set(float64(fragments))
}

// forgetMaintenance drops the bucket's background series (forget calls it).
func (m *bucketMetrics) forgetMaintenance() {
	for _, v := range maintenanceFamilies {
		v.Delete(m.labels)
	}
}
