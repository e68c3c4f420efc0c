# Regenerates testdata/pylance_2_0_nested.lance, a pylance 14 2.0 (legacy)
# file with list, large list, list of lists, struct and fixed-size list
# columns, used as a fuzz seed for the legacy nested reader. 60 rows.
import pyarrow as pa
from lance.file import LanceFileWriter

n = 60
t = pa.table({
    "l": pa.array([None if i % 5 == 0 else [i * 0.5] * (i % 4) for i in range(n)], pa.list_(pa.float64())),
    "ll": pa.array([None if i % 7 == 0 else [[i] * (i % 3), None][: i % 3] for i in range(n)],
                   pa.list_(pa.list_(pa.int32()))),
    "big": pa.array([[str(i)] * (i % 2) for i in range(n)], pa.large_list(pa.string())),
    "s": pa.array([{"a": i, "b": None if i % 3 == 0 else "x" * (i % 5)} for i in range(n)],
                  pa.struct([("a", pa.int64()), ("b", pa.string())])),
    "fv": pa.array([None if i % 6 == 0 else [i, -i] for i in range(n)], pa.list_(pa.float32(), 2)),
})
w = LanceFileWriter("testdata/pylance_2_0_nested.lance", t.schema, version="2.0")
w.write_batch(t)
w.close()
