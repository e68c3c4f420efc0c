package engine

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// parseMetrics parses the text exposition format the way a scraper does.
func parseMetrics(t *testing.T, text []byte) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(text))
	if err != nil {
		t.Fatalf("not valid Prometheus text: %v\n%s", err, text)
	}
	return fams
}

// seriesValue finds the sample of family name labelled bucket=id, path=path.
func seriesValue(fams map[string]*dto.MetricFamily, name, id, path string) (float64, bool) {
	fam, ok := fams[name]
	if !ok {
		return 0, false
	}
	for _, m := range fam.GetMetric() {
		if labelValue(m, "bucket") != id || labelValue(m, "path") != path {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func TestMetrics(t *testing.T) {
	path := t.TempDir()
	b, err := Open(Options{Path: path, BucketID: 42, FlushThreshold: 1000, Metrics: true,
		WAL: WALOptions{Enabled: true}, MetricsAddress: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	appendRows(t, b, 0, 30)
	appendRows(t, b, 30, 20)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	appendRows(t, b, 50, 5)

	want := map[string]float64{
		"persisting_records_total":          55,
		"persisting_buffer_size":            5,
		"persisting_flush_duration_seconds": 1, // one observation
		"persisting_flushes_total":          1,
		"persisting_flushed_records_total":  50,
	}
	text, err := MetricsText()
	if err != nil {
		t.Fatal(err)
	}
	fams := parseMetrics(t, text)
	for name, v := range want {
		got, ok := seriesValue(fams, name, "42", path)
		if !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", name, got, ok, v)
		}
	}
	if walSize, ok := seriesValue(fams, "persisting_wal_size_bytes", "42", path); !ok || walSize <= 0 {
		t.Errorf("persisting_wal_size_bytes = %v, %v; want > 0 with 5 rows in the WAL", walSize, ok)
	}

	s, err := b.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.Metrics["persisting_records_total"] != 55.0 || s.Metrics["persisting_buffer_size"] != 5.0 {
		t.Errorf("Stats().Metrics = %v", s.Metrics)
	}

	if m, err := b.Metrics(); err != nil || m["persisting_records_total"] != 55.0 {
		t.Errorf("Metrics() = %v, %v", m, err)
	}

	// the HTTP endpoint, on the port the system picked, serves the same registry
	if s.MetricsAddress == "" || s.MetricsAddress == "127.0.0.1:0" {
		t.Fatalf("stats report metrics_address %q", s.MetricsAddress)
	}
	resp, err := http.Get("http://" + s.MetricsAddress + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got, ok := seriesValue(parseMetrics(t, body), "persisting_records_total", "42", path); !ok || got != 55 {
		t.Errorf("scraped persisting_records_total = %v, %v", got, ok)
	}

	// a closed bucket's series are dropped
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	text, _ = MetricsText()
	if _, ok := seriesValue(parseMetrics(t, text), "persisting_records_total", "42", path); ok {
		t.Error("series of a closed bucket are still exported")
	}
}

func TestNoMetricsUnlessAsked(t *testing.T) {
	path := t.TempDir()
	b := openBucket(t, path, 1000)
	defer b.Close()
	appendRows(t, b, 0, 3)
	s, _ := b.Stats()
	if s.Metrics != nil {
		t.Fatalf("metrics without Options.Metrics: %v", s.Metrics)
	}
	text, _ := MetricsText()
	if _, ok := seriesValue(parseMetrics(t, text), "persisting_records_total", strconv.Itoa(0), path); ok {
		t.Fatal("a bucket without metrics exported a series")
	}
}

// An idle bucket's series exist from open: a scraper (and get_metrics) tells
// "nothing happened yet" from "no metrics"; the dataset gauges are right at
// once on a reopened bucket.
func TestMetricsExistFromOpen(t *testing.T) {
	path := t.TempDir()
	b := openBucket(t, path, 1000)
	appendRows(t, b, 0, 7)
	if err := b.Close(); err != nil { // flushes: one fragment of 7 rows
		t.Fatal(err)
	}
	b, err := Open(Options{Path: path, BucketID: 43, FlushThreshold: 1000, Metrics: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	text, err := MetricsText()
	if err != nil {
		t.Fatal(err)
	}
	fams := parseMetrics(t, text)
	want := map[string]float64{"persisting_records_total": 0, "persisting_buffer_size": 0,
		"persisting_flush_duration_seconds": 0, "persisting_wal_size_bytes": 0, "persisting_flushes_total": 0,
		"persisting_flushed_records_total": 0, "persisting_wal_replayed_records_total": 0,
		"persisting_auto_flushes_total": 0, "persisting_compactions_total": 0,
		"persisting_compacted_fragments_total": 0, "persisting_compaction_duration_seconds": 0,
		"persisting_versions_removed_total": 0, "persisting_files_removed_total": 0,
		"persisting_bytes_reclaimed_total": 0, "persisting_retention_dropped_records_total": 0,
		"persisting_first_retained_offset": 0, "persisting_retained_records": 7, "persisting_fragments": 1}
	for name, v := range want {
		if got, ok := seriesValue(fams, name, "43", path); !ok || got != v {
			t.Errorf("%s = %v (present %v) right after open, want %v", name, got, ok, v)
		}
	}
	m, err := b.Metrics()
	if err != nil || m["persisting_flush_duration_seconds"] == nil {
		t.Errorf("Metrics() right after open = %v, %v; want the histogram at count 0", m, err)
	}
}

// An open that fails leaves no series behind.
func TestFailedOpenLeavesNoMetrics(t *testing.T) {
	path := t.TempDir()
	taken, err := net.Listen("tcp", "127.0.0.1:0") // a port someone else serves
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	if _, err := Open(Options{Path: path, BucketID: 44, FlushThreshold: 1000, Metrics: true,
		MetricsAddress: taken.Addr().String()}); err == nil {
		t.Fatal("opened with a metrics address that cannot be served")
	}
	text, _ := MetricsText()
	if _, ok := seriesValue(parseMetrics(t, text), "persisting_records_total", "44", path); ok {
		t.Error("a failed open left its series exported")
	}
}
