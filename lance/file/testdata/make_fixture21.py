# Regenerates testdata/pylance_2_1.lance and testdata/pylance_2_2.lance, the
# committed pylance 14 fixtures read by TestPylance21Fixtures (which
# recomputes the same values in Go) and used as fuzz seeds. 1200 rows, one
# page per column; the columns trigger bit-packing, dictionary, RLE,
# constant, all-null and full-zip pages.
import pyarrow as pa
from lance.file import LanceFileWriter

n = 1200
t = pa.table({
    "i": pa.array([None if i % 7 == 0 else i % 100 for i in range(n)], pa.int64()),
    "f": pa.array([i / 4 for i in range(n)], pa.float64()),
    "b": pa.array([None if i % 5 == 0 else i % 2 == 0 for i in range(n)], pa.bool_()),
    "dict": pa.array([["ä", "bb", None, ""][i % 4] for i in range(n)], pa.string()),
    "nulls": pa.array([None] * n, pa.string()),
    "s": pa.array([None if i % 6 == 0 else "v%d" % (i * 7) for i in range(n)], pa.string()),
    "c": pa.array([5] * n, pa.int32()),
    "runs": pa.array([i // 100 for i in range(n)], pa.int32()),
    "long": pa.array([("long-%d-" % i) * 40 if i % 20 == 0 else None for i in range(n)], pa.large_string()),
})
for v in ["2.1", "2.2"]:
    w = LanceFileWriter("testdata/pylance_%s.lance" % v.replace(".", "_"), t.schema, version=v)
    w.write_batch(t)
    w.close()
