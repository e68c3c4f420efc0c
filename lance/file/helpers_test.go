package file

import (
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/memory"

	"github.com/persisting/persisting/lance/schema"
)

// pythonCmd returns the interpreter for pylance cross-checks. Tests fail (not
// skip) without pylance: CI installs it.
// a decoder panic must fail the tests, not turn into an error
func init() { recoverDecodePanics = false }

func pythonCmd() string {
	if p := os.Getenv("PYTHON"); p != "" {
		return p
	}
	return "python3"
}

func runPylance(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command(pythonCmd(), append([]string{"testdata/pylance_io.py"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pylance %v: %v\n%s\n(install with: pip install pylance==14.0.3 pyarrow)", args, err, out)
	}
	return string(out)
}

func assertColumnsEqual(t testing.TB, what string, want []arrow.Array, got []arrow.Array) {
	t.Helper()
	if len(want) != len(got) {
		t.Fatalf("%s: %d columns, want %d", what, len(got), len(want))
	}
	for i := range want {
		if !array.Equal(want[i], got[i]) {
			t.Fatalf("%s: column %d differs\n got %v\nwant %v", what, i, trunc(got[i]), trunc(want[i]))
		}
	}
}

func trunc(a arrow.Array) string {
	s := fmt.Sprint(a)
	if len(s) > 400 {
		s = s[:400] + "..."
	}
	return s
}

// testCase is a table written in batches.
type testCase struct {
	name     string
	sch      *arrow.Schema
	recs     []arrow.Record
	opts     WriteOptions
	enc      []string // page encodings pylance must use for it (pylance->Go test)
	minPages int      // every column must have at least this many pages (both writers)
	pyCache  int64    // data_cache_bytes for pylance (small = many pages), 0 = default
}

type colGen func(b array.Builder, row int, rng *rand.Rand)

// nullEvery makes row i null when i%k == k-1 (k == 1: all null, 0: never).
func nullIf(k int) func(int) bool {
	return func(i int) bool { return k > 0 && i%k == k-1 }
}

var sampleStrings = []string{"", "a", "héllo", "日本語テキスト", "tab\tnew\nline", strings.Repeat("x", 300), "\x00nul"}

// genValue appends one deterministic-random value for row i to b.
func genValue(b array.Builder, i int, rng *rand.Rand, cardinality int) {
	switch b := b.(type) {
	case *array.Int64Builder:
		b.Append(rng.Int63() - rng.Int63())
	case *array.Int32Builder:
		b.Append(rng.Int31() - rng.Int31())
	case *array.Int16Builder:
		b.Append(int16(rng.Int()))
	case *array.Int8Builder:
		b.Append(int8(rng.Int()))
	case *array.Uint64Builder:
		b.Append(rng.Uint64())
	case *array.Uint32Builder:
		b.Append(rng.Uint32())
	case *array.Uint16Builder:
		b.Append(uint16(rng.Int()))
	case *array.Uint8Builder:
		b.Append(uint8(rng.Int()))
	case *array.Float64Builder:
		b.Append(rng.NormFloat64() * 1e6)
	case *array.Float32Builder:
		b.Append(float32(rng.NormFloat64()))
	case *array.BooleanBuilder:
		b.Append(rng.Intn(2) == 0)
	case *array.Date32Builder:
		b.Append(arrow.Date32(rng.Int31n(40000)))
	case *array.TimestampBuilder:
		b.Append(arrow.Timestamp(rng.Int63n(1 << 50)))
	case *array.StringBuilder:
		b.Append(genString(i, rng, cardinality))
	case *array.LargeStringBuilder:
		b.Append(genString(i, rng, cardinality))
	case *array.BinaryBuilder:
		b.Append([]byte(genString(i, rng, cardinality)))
	default:
		panic(fmt.Sprintf("no generator for %T", b))
	}
}

func genString(i int, rng *rand.Rand, cardinality int) string {
	if cardinality > 0 {
		return sampleStrings[i%min(cardinality, len(sampleStrings))] + fmt.Sprint(i%cardinality)
	}
	if rng.Intn(10) == 0 {
		return sampleStrings[rng.Intn(len(sampleStrings))]
	}
	return fmt.Sprintf("row-%d-%x-é", i, rng.Int63())
}

// genRecords builds batches of the given sizes. nulls[c] decides null rows
// for column c (by global row number); card[c] > 0 limits string values to
// that many distinct values (to trigger dictionary encoding in pylance).
func genRecords(sch *arrow.Schema, sizes []int, nulls []func(int) bool, card []int, seed int64) []arrow.Record {
	rng := rand.New(rand.NewSource(seed))
	var recs []arrow.Record
	row := 0
	for _, n := range sizes {
		rb := array.NewRecordBuilder(memory.DefaultAllocator, sch)
		for r := 0; r < n; r++ {
			for c := range sch.Fields() {
				b := rb.Field(c)
				if nulls != nil && nulls[c] != nil && nulls[c](row+r) {
					b.AppendNull()
					continue
				}
				cd := 0
				if card != nil {
					cd = card[c]
				}
				genValue(b, row+r, rng, cd)
			}
		}
		row += n
		recs = append(recs, rb.NewRecord())
		rb.Release()
	}
	return recs
}

func fourTypes() *arrow.Schema {
	return arrow.NewSchema([]arrow.Field{
		{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
}

func mustFields(t testing.TB, sch *arrow.Schema) []schema.Field {
	t.Helper()
	f, err := schema.FromArrow(sch, 0)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// trackingAllocator records every allocation so tests can prove that each
// buffer of a returned record came from the caller's allocator.
type trackingAllocator struct {
	memory.Allocator
	mu   sync.Mutex
	live map[uintptr]int
}

func newTrackingAllocator(a memory.Allocator) *trackingAllocator {
	return &trackingAllocator{Allocator: a, live: map[uintptr]int{}}
}

func addr(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }

func (a *trackingAllocator) Allocate(n int) []byte {
	b := a.Allocator.Allocate(n)
	a.mu.Lock()
	a.live[addr(b)] = cap(b)
	a.mu.Unlock()
	return b
}

func (a *trackingAllocator) Reallocate(n int, old []byte) []byte {
	a.mu.Lock()
	delete(a.live, addr(old))
	a.mu.Unlock()
	b := a.Allocator.Reallocate(n, old)
	a.mu.Lock()
	a.live[addr(b)] = cap(b)
	a.mu.Unlock()
	return b
}

func (a *trackingAllocator) Free(b []byte) {
	a.mu.Lock()
	delete(a.live, addr(b))
	a.mu.Unlock()
	a.Allocator.Free(b)
}

// owns reports whether every non-empty buffer of arr lies in a live
// allocation of a.
func (a *trackingAllocator) owns(arr arrow.ArrayData) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ownsLocked(arr)
}

func (a *trackingAllocator) ownsLocked(arr arrow.ArrayData) error {
	for i, b := range arr.Buffers() {
		if b == nil || b.Len() == 0 {
			continue
		}
		p := addr(b.Bytes())
		ok := false
		for base, n := range a.live {
			if p >= base && p+uintptr(b.Len()) <= base+uintptr(n) {
				ok = true
				break
			}
		}
		if !ok {
			return fmt.Errorf("buffer %d of %s not from the allocator", i, arr.DataType())
		}
	}
	for _, c := range arr.Children() {
		if err := a.ownsLocked(c); err != nil {
			return err
		}
	}
	return nil
}

func tempPath(t testing.TB, name string) string {
	return filepath.Join(t.TempDir(), name)
}
