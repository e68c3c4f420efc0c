# Writes a Lance 2.0 file with pylance for a fixed set of Arrow schemas and
# prints, per case, the hex of the lance.file.Schema message pylance embedded
# in the file's FileDescriptor (global buffer 0). The Go test compares it with
# what package schema produces for the same Arrow schema.
import os, struct, sys, tempfile, json
import pyarrow as pa
from lance.file import LanceFileWriter

def varint(b, i):
    x = s = 0
    while True:
        c = b[i]; i += 1
        x |= (c & 0x7F) << s; s += 7
        if c < 0x80:
            return x, i

def schema_bytes(path):
    d = open(path, "rb").read()
    _, _, gbo, ngb, _, _, _, magic = struct.unpack("<QQQIIHH4s", d[-40:])
    assert magic == b"LANC"
    pos, size = struct.unpack("<QQ", d[gbo:gbo + 16])
    fd = d[pos:pos + size]
    i = 0
    while i < len(fd):
        tag, i = varint(fd, i)
        if tag & 7 == 2:
            n, i = varint(fd, i)
            if tag >> 3 == 1:
                return fd[i:i + n]
            i += n
        else:
            _, i = varint(fd, i)
    raise SystemExit("no schema in descriptor")

cases = {
    "prims": pa.schema([
        pa.field("i", pa.int64()), pa.field("f", pa.float64()),
        pa.field("b", pa.bool_()), pa.field("s", pa.string()),
        pa.field("nn", pa.int64(), nullable=False),
    ], metadata={"k": "v"}),
    "ints": pa.schema([pa.field(n, t) for n, t in [
        ("i8", pa.int8()), ("i16", pa.int16()), ("i32", pa.int32()),
        ("u8", pa.uint8()), ("u16", pa.uint16()), ("u32", pa.uint32()), ("u64", pa.uint64()),
        ("f32", pa.float32()), ("ls", pa.large_string()), ("bin", pa.binary()),
        ("lbin", pa.large_binary())]]),
    "meta": pa.schema([pa.field("x", pa.int32(), metadata={"a": "1"})]),
    "temporal": pa.schema([
        pa.field("ts", pa.timestamp("us")), pa.field("tsz", pa.timestamp("ns", tz="UTC")),
        pa.field("d32", pa.date32()), pa.field("d64", pa.date64())]),
    "nested": pa.schema([
        pa.field("id", pa.int64()),
        pa.field("st", pa.struct([pa.field("a", pa.int32()), pa.field("b", pa.string())])),
        pa.field("l", pa.list_(pa.string())),
        pa.field("v", pa.list_(pa.float32(), 4))]),
}
out = {}
with tempfile.TemporaryDirectory() as d:
    for name, sch in cases.items():
        p = os.path.join(d, name + ".lance")
        w = LanceFileWriter(p, sch, version="2.0")
        w.write_batch(pa.table({f.name: pa.array([], f.type) for f in sch}, schema=sch))
        w.close()
        out[name] = schema_bytes(p).hex()
json.dump(out, sys.stdout)
