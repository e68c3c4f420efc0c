# Regenerates testdata/pylance_2_0.lance, the committed pylance 14 fixture
# used as a fuzz seed and by TestPylanceFixture (which recomputes the same
# values in Go). 300 rows, one page per column.
import pyarrow as pa
from lance.file import LanceFileWriter

n = 300
t = pa.table({
    "i": pa.array([None if i % 7 == 0 else i * 1000 - 5 for i in range(n)], pa.int64()),
    "f": pa.array([i / 4 for i in range(n)], pa.float64()),
    "b": pa.array([None if i % 5 == 0 else i % 2 == 0 for i in range(n)], pa.bool_()),
    "dict": pa.array([["ä", "bb", None, ""][i % 4] for i in range(n)], pa.string()),
    "nulls": pa.array([None] * n, pa.string()),
    "s": pa.array([None if i % 6 == 0 else "v%d" % (i * 7) for i in range(n)], pa.string()),
})
w = LanceFileWriter("testdata/pylance_2_0.lance", t.schema, version="2.0")
w.write_batch(t)
w.close()
