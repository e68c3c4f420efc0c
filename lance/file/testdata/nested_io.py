# Writes a deterministic table of nested columns (fixed_size_list, list,
# large_list, struct, list of lists) with nulls at every level as a Lance file of the given
# version, and pylance's own reading of it as Arrow IPC.
#
#   nested_io.py out.lance out.arrow version rows [page_bytes]
import sys
import pyarrow as pa
import pyarrow.ipc as ipc
from lance.file import LanceFileReader, LanceFileWriter

path, out, version, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
kw = {}
if len(sys.argv) > 5:
    kw = {"data_cache_bytes": int(sys.argv[5]), "max_page_bytes": int(sys.argv[5])}


def lst(i):
    if i % 7 == 1:
        return None
    if i % 7 == 2:
        return []
    return [None if (i + k) % 5 == 0 else i * 10 + k for k in range(i % 4 + 1)]


t = pa.table({
    "v": pa.array([None if i % 5 == 3 else [float(i), -float(i), 0.5, float(i % 9)] for i in range(n)],
                  pa.list_(pa.float32(), 4)),
    "vn": pa.array([[None if (i + k) % 3 == 0 else float(k) for k in range(3)] for i in range(n)],
                   pa.list_(pa.float32(), 3)),
    "big": pa.array([None if i % 11 == 0 else [float(i + k) for k in range(128)] for i in range(n)],
                    pa.list_(pa.float32(), 128)),
    "l": pa.array([lst(i) for i in range(n)], pa.list_(pa.int64())),
    "ls": pa.array([None if i % 9 == 4 else ["é%d" % k for k in range(i % 3)] for i in range(n)],
                   pa.large_list(pa.string())),
    "st": pa.array([None if i % 6 == 5 else {"a": None if i % 4 == 0 else i, "b": "s%d" % i}
                    for i in range(n)], pa.struct([("a", pa.int32()), ("b", pa.string())])),
    "sl": pa.array([None if i % 8 == 7 else {"x": lst(i + 3), "y": float(i)} for i in range(n)],
                   pa.struct([("x", pa.list_(pa.int64())), ("y", pa.float64())])),
    "lst": pa.array([None if i % 10 == 9 else [None if k == 1 else {"p": k, "q": "q%d" % k} for k in range(i % 3)]
                     for i in range(n)], pa.list_(pa.struct([("p", pa.int16()), ("q", pa.string())]))),
    "ll": pa.array([None if i % 13 == 6 else [lst(i + k) for k in range(i % 3)] for i in range(n)],
                   pa.list_(pa.list_(pa.int64()))),
})
w = LanceFileWriter(path, t.schema, version=version, **kw)
for b in t.to_batches(max_chunksize=4000):
    w.write_batch(b)
w.close()
got = LanceFileReader(path).read_all().to_table()
with ipc.new_file(out, got.schema) as f:
    f.write_table(got)
