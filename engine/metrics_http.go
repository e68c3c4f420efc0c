package engine

import (
	"fmt"
	"net"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metricsServers are the /metrics endpoints started in this process, by
// address; buckets that name the same address share one.
var metricsServers = struct {
	sync.Mutex
	byAddr map[string]net.Addr
}{byAddr: map[string]net.Addr{}}

// ServeMetrics serves Registry at http://addr/metrics, once per address for
// the life of the process, and returns the address it listens on (useful
// with port 0). It is off unless a caller asks: a library must not open
// ports by itself.
func ServeMetrics(addr string) (net.Addr, error) {
	metricsServers.Lock()
	defer metricsServers.Unlock()
	if a, ok := metricsServers.byAddr[addr]; ok {
		return a, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w: metrics_address %q: %v", ErrInvalidArgument, addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(Registry, promhttp.HandlerOpts{}))
	go http.Serve(ln, mux) //nolint:errcheck // runs until the process exits
	metricsServers.byAddr[addr] = ln.Addr()
	if ln.Addr().String() != addr {
		metricsServers.byAddr[ln.Addr().String()] = ln.Addr()
	}
	return ln.Addr(), nil
}
