# Bridge between the Go tests and pylance: moves tables between Arrow IPC
# files (which Go reads and writes exactly) and Lance 2.0 data files.
#
#   pylance_io.py read  in.lance out.arrow   # LanceFileReader(...).read_all()
#   pylance_io.py write in.arrow out.lance [data_cache_bytes]  # small cache = many pages
#   pylance_io.py writever in.arrow out.lance version [page_bytes]  # e.g. 2.1, 2.2; small page_bytes = many pages
#   pylance_io.py meta  in.lance             # prints version and page encodings
import sys
import pyarrow as pa
import pyarrow.ipc as ipc
from lance.file import LanceFileReader, LanceFileWriter

cmd = sys.argv[1]
if cmd == "read":
    r = LanceFileReader(sys.argv[2])
    t = r.read_all().to_table()
    with ipc.new_file(sys.argv[3], t.schema) as w:
        w.write_table(t)
elif cmd == "write":
    t = ipc.open_file(sys.argv[2]).read_all()
    kw = {}
    if len(sys.argv) > 4:
        kw["data_cache_bytes"] = int(sys.argv[4])
    w = LanceFileWriter(sys.argv[3], t.schema, version="2.0", **kw)
    for b in t.to_batches():
        w.write_batch(b)
    w.close()
elif cmd == "writever":
    t = ipc.open_file(sys.argv[2]).read_all()
    kw = {}
    if len(sys.argv) > 5:
        kw["data_cache_bytes"] = int(sys.argv[5])
        kw["max_page_bytes"] = int(sys.argv[5])
    w = LanceFileWriter(sys.argv[3], t.schema, version=sys.argv[4], **kw)
    for b in t.to_batches(max_chunksize=5000 if kw else None):
        w.write_batch(b)
    w.close()
elif cmd == "meta":
    m = LanceFileReader(sys.argv[2]).metadata()
    print(m.major_version, m.minor_version, m.num_rows)
else:
    raise SystemExit("unknown command " + cmd)
