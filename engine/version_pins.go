package engine

import "sync"

// versionPins count the readers using each dataset version, so that the
// background cleanup never removes the files of a version being read.
type versionPins struct {
	mu sync.Mutex
	n  map[uint64]int
}

func (p *versionPins) pin(v uint64) {
	p.mu.Lock()
	if p.n == nil {
		p.n = map[uint64]int{}
	}
	p.n[v]++
	p.mu.Unlock()
}

func (p *versionPins) unpin(v uint64) {
	p.mu.Lock()
	if p.n[v]--; p.n[v] <= 0 {
		delete(p.n, v)
	}
	p.mu.Unlock()
}

// pinned lists the versions in use now.
func (p *versionPins) pinned() []uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]uint64, 0, len(p.n))
	for v := range p.n {
		out = append(out, v)
	}
	return out
}

// releaseSnapshot gives back what snapshot took: the buffered records'
// references and the pin on the dataset version.
func (b *Bucket) releaseSnapshot(s readSnapshot) {
	releaseAll(s.buffered)
	if s.dataset != nil {
		b.unpin(s.dataset.Version())
	}
}

// unpin releases a reader's pin on version v; cleanup may then remove it.
func (b *Bucket) unpin(v uint64) {
	b.pins.unpin(v)
	b.wakeMaintenance()
}
