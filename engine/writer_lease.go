package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/persisting/persisting/lance"
	"github.com/persisting/persisting/lance/objstore"
)

// An s3:// bucket has no file to flock, so its one writer is kept by two
// things together (docs/scaling.md, "On object storage"):
//
//   - a lease: the object {path}/_persisting/writer-lease.json names the
//     holder and when its claim expires. It is created with a conditional
//     PUT (If-None-Match: *) and renewed, released or taken over only with
//     If-Match on the version read, so of two writers racing for it exactly
//     one wins. The holder renews it in the background; a crashed holder
//     stops renewing and the next writer takes it over once it has expired.
//     A live lease refuses a second writer with ErrBusy naming the holder.
//   - a fencing epoch in every commit: each lease holder takes an epoch
//     above every earlier one, records it in every manifest it commits
//     (persisting.writer_epoch), and refuses to commit on top of a version
//     recording a higher one (lance.Fence). A takeover first commits a
//     version carrying its epoch. A lease alone cannot stop a holder that
//     was paused past its expiry (GC, partition, suspended VM) from
//     committing after the takeover; the epoch in the conditional commit
//     can, without relying on clocks.
//
// Read-only opens take no lease.

// WriterLeaseName is the lease object of an s3:// bucket, under its path.
const WriterLeaseName = "_persisting/writer-lease.json"

// writerEpochKey is the manifest config entry holding the epoch of the
// writer that committed the version (or of the last one that did).
const writerEpochKey = "persisting.writer_epoch"

// Lease timing defaults: renewed three times per lease, so two renewals in
// a row may fail before the holder loses it.
const (
	DefaultWriterLease      = 30 * time.Second
	DefaultWriterLeaseRenew = DefaultWriterLease / 3
)

// WriterLeaseOptions time the writer lease of an s3:// bucket.
type WriterLeaseOptions struct {
	// Duration is how long a lease lasts from its last renewal: after a
	// crash, the time until another writer may take the bucket over.
	// Zero: DefaultWriterLease.
	Duration time.Duration
	// RenewInterval is how often the holder renews; below Duration. Zero:
	// a third of Duration.
	RenewInterval time.Duration

	beforeRenew func()      // tests: runs before each background renewal
	afterRenew  func(error) // tests: told of each background renewal's outcome
}

func (o WriterLeaseOptions) withDefaults() WriterLeaseOptions {
	if o.Duration == 0 {
		o.Duration = DefaultWriterLease
	}
	if o.RenewInterval == 0 {
		o.RenewInterval = o.Duration / 3
	}
	if o.beforeRenew == nil {
		o.beforeRenew = func() {}
	}
	if o.afterRenew == nil {
		o.afterRenew = func(error) {}
	}
	return o
}

func (o WriterLeaseOptions) validate() error {
	if o.Duration < 0 || o.RenewInterval < 0 {
		return fmt.Errorf("%w: writer lease times must be positive", ErrInvalidArgument)
	}
	if o = o.withDefaults(); o.RenewInterval >= o.Duration {
		return fmt.Errorf("%w: writer_lease_renew_sec (%v) must be shorter than writer_lease_sec (%v)",
			ErrInvalidArgument, o.RenewInterval, o.Duration)
	}
	return nil
}

// leaseRecord is the content of the lease object.
type leaseRecord struct {
	Holder   string    `json:"holder"` // random id of the open that holds it
	PID      int       `json:"pid"`
	Host     string    `json:"host"`
	Started  string    `json:"started"`
	Epoch    uint64    `json:"epoch"`
	Expires  time.Time `json:"expires"`
	Renewal  uint64    `json:"renewal"` // makes every write's bytes unique
	Released bool      `json:"released,omitempty"`
}

func (r leaseRecord) String() string {
	return fmt.Sprintf("pid %d on host %s since %s (epoch %d)", r.PID, r.Host, r.Started, r.Epoch)
}

// live says whether the record still holds the bucket at now.
func (r leaseRecord) live(now time.Time) bool { return !r.Released && now.Before(r.Expires) }

// writerLease is a held lease with its renewal goroutine.
type writerLease struct {
	url    string // the lease object
	bucket string // the bucket's path, for messages
	opts   WriterLeaseOptions
	clock  Clock

	// renewMu admits one renewal at a time: two sent with the same ETag
	// would make the loser believe another writer took the lease.
	renewMu    sync.Mutex
	mu         sync.Mutex
	rec        leaseRecord
	etag       string
	validUntil time.Time // on our clock: when the last renewal's lease runs out
	lost       error     // ErrBusy once another writer has taken the lease
	takeover   bool      // claimed over a writer that did not release its lease
	// storeGone: the store did not answer the bucket's last flush, or
	// left it uncertain, so release leaves the lease to expire or to this
	// process's next open (see Bucket.storeGoneAtClose).
	storeGone bool

	unfence func()
	stop    chan struct{}
	done    chan struct{}
	// renewing ends a renewal in flight when the lease is released: with
	// the server gone it would hold Close for a whole retry budget.
	renewing       context.Context
	cancelRenewing context.CancelFunc
}

// acquireWriterLease takes the lease of the s3:// bucket of opts, fences
// this process's commits to the dataset with its epoch and renews it in
// the background. It fails with ErrBusy, naming the path and the holder,
// while another writer's lease is live.
func acquireWriterLease(opts Options) (*writerLease, error) {
	l, err := takeLease(opts)
	if err != nil {
		return nil, err
	}
	l.unfence = lance.FenceCommits(opts.datasetPath(), lance.Fence{
		Key: writerEpochKey, Epoch: l.rec.Epoch, Permit: l.permit, Refused: l.fenced,
	})
	l.stop, l.done = make(chan struct{}), make(chan struct{})
	l.renewing, l.cancelRenewing = context.WithCancel(context.Background())
	go l.renewLoop(l.clock.NewTicker(l.opts.RenewInterval))
	return l, nil
}

// takeLease claims the lease and, over a holder that did not release it,
// commits the takeover version carrying the new epoch.
func takeLease(opts Options) (*writerLease, error) {
	lo := opts.WriterLease.withDefaults()
	l := &writerLease{url: objstore.JoinURL(opts.Path, WriterLeaseName), bucket: opts.Path, opts: lo,
		clock: opts.Background.withDefaults().clock}
	var id [8]byte
	rand.Read(id[:])
	me := currentHolder()
	l.rec = leaseRecord{Holder: hex.EncodeToString(id[:]), PID: me.PID, Host: me.Host, Started: me.Started}
	// A lost race for the object (someone else created or replaced it
	// between our read and our write) is decided by reading it again.
	for attempt := 0; ; attempt++ {
		err := l.claim(opts.datasetPath())
		if err == nil {
			break
		}
		if attempt >= 4 || !(errors.Is(err, objstore.ErrExist) || errors.Is(err, objstore.ErrChanged) || errors.Is(err, objstore.ErrNotExist)) {
			return nil, err
		}
	}
	// The takeover version: from here on, no earlier writer can commit. A
	// lease its holder released needs none: that writer had finished
	// committing, and every holder before it was fenced the same way.
	if l.takeover {
		if _, err := lance.AdvanceFence(opts.datasetPath(), lance.Fence{Key: writerEpochKey, Epoch: l.rec.Epoch, Refused: l.fenced}); err != nil && !errors.Is(err, lance.ErrNotFound) {
			l.release()
			return nil, fmt.Errorf("engine: taking over %s: %w", opts.datasetPath(), asBusy(err))
		}
	}
	return l, nil
}

// claim reads the lease object and, unless a live lease is in it, writes
// ours over it with the next epoch (conditionally on what it read).
func (l *writerLease) claim(datasetPath string) error {
	data, etag, err := objstore.ReadTagged(l.url)
	missing := errors.Is(err, objstore.ErrNotExist)
	if err != nil && !missing {
		return fmt.Errorf("engine: writer lease %s: %w", l.url, err)
	}
	var prev leaseRecord
	if !missing && json.Unmarshal(data, &prev) != nil {
		prev = leaseRecord{} // unreadable: holds nothing (the epoch comes from the dataset too)
	}
	now := l.clock.Now()
	if !missing && prev.live(now) && !abandonedHere(l.url, prev.Holder) {
		return fmt.Errorf("%w: bucket %s is open for writing by another writer: %s, lease until %s (lease object %s); "+
			"a bucket has one writer at a time - open it read-only to read alongside, or wait for the lease to expire if that writer is gone",
			ErrBusy, l.bucket, prev, prev.Expires.UTC().Format(time.RFC3339), l.url)
	}
	recorded, err := datasetEpoch(datasetPath)
	if err != nil {
		return err
	}
	rec := l.rec
	rec.Epoch = max(prev.Epoch, recorded) + 1
	rec.Expires = now.Add(l.opts.Duration)
	text, _ := json.Marshal(rec)
	if missing {
		etag, err = objstore.CreateTagged(l.url, text)
	} else {
		etag, err = objstore.ReplaceIfMatch(l.url, text, etag)
	}
	if err != nil {
		if errors.Is(err, objstore.ErrOutcomeUnknown) { // it may hold our claim: no open of ours uses it
			abandoned.Store(l.url, rec.Holder)
		}
		return fmt.Errorf("engine: writer lease %s: %w", l.url, err)
	}
	l.rec, l.etag, l.validUntil = rec, etag, rec.Expires
	abandoned.Delete(l.url)
	// Over a lease removed by hand while its holder may still run, the
	// epoch in the dataset says there was one: fence it like any other.
	l.takeover = !prev.Released && (!missing || recorded > 0)
	return nil
}

// datasetEpoch is the writer epoch the newest version of the dataset
// records (0 without a dataset).
func datasetEpoch(datasetPath string) (uint64, error) {
	ds, err := lance.Open(datasetPath)
	if errors.Is(err, lance.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("engine: open dataset %s: %w", datasetPath, err)
	}
	return lance.RecordedEpoch(ds.Config(), writerEpochKey)
}

// renewLoop renews the lease at every tick until release.
func (l *writerLease) renewLoop(t Ticker) {
	defer close(l.done)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C():
			l.opts.beforeRenew()
			l.opts.afterRenew(l.renew())
		}
	}
}

// renew extends the lease from now, if it is still ours. A failed request
// leaves the lease as it was (the next tick tries again); a lease replaced
// by another writer is lost for good.
func (l *writerLease) renew() error {
	l.renewMu.Lock()
	defer l.renewMu.Unlock()
	l.mu.Lock()
	if l.lost != nil {
		l.mu.Unlock()
		return l.lost
	}
	rec := l.rec
	etag := l.etag
	l.mu.Unlock()
	now := l.clock.Now()
	rec.Expires = now.Add(l.opts.Duration)
	rec.Renewal++
	text, _ := json.Marshal(rec)
	ctx := l.renewing
	if ctx == nil {
		ctx = context.Background()
	}
	tag, err := objstore.ReplaceIfMatchContext(ctx, l.url, text, etag)
	if errors.Is(err, objstore.ErrChanged) {
		if own, ok := l.ownETag(); ok { // our last renewal landed unanswered
			tag, err = objstore.ReplaceIfMatchContext(ctx, l.url, text, own)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case err == nil:
		l.rec, l.etag, l.validUntil = rec, tag, rec.Expires
		return nil
	case errors.Is(err, objstore.ErrChanged) || errors.Is(err, objstore.ErrNotExist):
		l.lost = fmt.Errorf("%w: fenced: bucket %s taken over by %s; this writer (epoch %d) stopped writing "+
			"(records acknowledged but not flushed stay in its WAL, see docs/object-storage.md)",
			ErrBusy, l.bucket, describeLease(l.url), rec.Epoch)
		return l.lost
	default:
		return fmt.Errorf("engine: renewing writer lease %s: %w", l.url, err)
	}
}

// ownETag reads the lease object after a conditional write found it
// changed: if it still names this open as holder, the change was one of our
// own writes whose answer was lost (every writer writes its own random
// holder id, so nobody else wrote it), and its ETag is returned.
func (l *writerLease) ownETag() (string, bool) {
	data, tag, err := objstore.ReadTagged(l.url)
	var cur leaseRecord
	if err != nil || json.Unmarshal(data, &cur) != nil {
		return "", false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return tag, cur.Holder == l.rec.Holder && !cur.Released
}

// permit refuses a commit once the lease is lost or has run out without a
// renewal: another writer may have taken over (its epoch would refuse the
// commit anyway; this stops us before writing). A lease that ran out (the
// server was gone) is renewed here first, so a flush just after the server
// is back need not wait for the next renewal tick.
func (l *writerLease) permit() error {
	if err := l.valid(); err == nil || !l.ranOut() {
		return err
	}
	l.renew() //nolint:errcheck // its outcome is what valid says next
	return l.valid()
}

// ranOut says whether the lease has run out without being lost.
func (l *writerLease) ranOut() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lost == nil && !l.clock.Now().Before(l.validUntil)
}

// valid says whether the lease admits a commit now.
func (l *writerLease) valid() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost != nil {
		return l.lost
	}
	if now := l.clock.Now(); !now.Before(l.validUntil) {
		return fmt.Errorf("%w: the writer lease of bucket %s ran out at %s without a renewal (lease object %s); "+
			"nothing is committed until a renewal succeeds (records acknowledged but not flushed stay in the WAL)",
			ErrBusy, l.bucket, l.validUntil.UTC().Format(time.RFC3339), l.url)
	}
	return nil
}

// fenced is the error of a commit refused by a newer writer's epoch.
func (l *writerLease) fenced(recorded uint64) error {
	l.mu.Lock()
	mine := l.rec.Epoch
	l.mu.Unlock()
	return fmt.Errorf("%w: fenced: bucket %s taken over by %s (the dataset records writer epoch %d, this writer's is %d); "+
		"this writer stopped writing (records acknowledged but not flushed stay in its WAL, see docs/object-storage.md)",
		ErrBusy, l.bucket, describeLease(l.url), recorded, mine)
}

// describeLease names the holder the lease object records, for messages.
func describeLease(url string) string {
	data, _, err := objstore.ReadTagged(url)
	if err != nil {
		return "another writer (lease object " + url + " unreadable: " + err.Error() + ")"
	}
	var r leaseRecord
	if json.Unmarshal(data, &r) != nil || r.PID == 0 {
		return "another writer (lease object " + url + " does not say who)"
	}
	return r.String()
}

// asBusy turns a fenced commit into the ErrBusy it carries.
func asBusy(err error) error {
	if errors.Is(err, lance.ErrFenced) && !errors.Is(err, ErrBusy) {
		return fmt.Errorf("%w: %w", ErrBusy, err)
	}
	return err
}

// release stops renewing and, unless the lease was lost, marks it released
// (conditionally: never over another writer's), so the next writer need
// not wait for it to expire. The epoch stays in the object.
func (l *writerLease) release() {
	if l == nil {
		return
	}
	if l.stop != nil {
		l.cancelRenewing()
		close(l.stop)
		<-l.done
	}
	if l.unfence != nil {
		l.unfence()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lost != nil {
		return
	}
	if l.storeGone {
		abandoned.Store(l.url, l.rec.Holder)
		return
	}
	rec := l.rec
	rec.Released = true
	rec.Expires = l.clock.Now()
	rec.Renewal++
	text, _ := json.Marshal(rec)
	etag := l.etag
	l.mu.Unlock()
	_, err := objstore.ReplaceIfMatch(l.url, text, etag)
	if errors.Is(err, objstore.ErrChanged) {
		if own, ok := l.ownETag(); ok {
			_, err = objstore.ReplaceIfMatch(l.url, text, own)
		}
	}
	l.mu.Lock()
	switch {
	case err == nil:
		l.lost = errors.New("released")
	case !errors.Is(err, objstore.ErrChanged) && !errors.Is(err, objstore.ErrNotExist):
		abandoned.Store(l.url, l.rec.Holder) // the store was unreachable: see abandonedHere
	}
}

// abandoned maps a lease object to the holder id of a lease this process
// closed but could not mark released (the store did not answer). No open
// of this process uses that lease any more, so a new open here may take it
// over at once instead of waiting for it to expire: closing a bucket while
// its server is down and reopening it once the server is back must not
// lock the process out of its own bucket for writer_lease_sec.
var abandoned sync.Map

// abandonedHere says whether holder is a lease of this process that was
// closed without being released.
func abandonedHere(url, holder string) bool {
	h, ok := abandoned.Load(url)
	return ok && h == holder
}
