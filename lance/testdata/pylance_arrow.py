#!/usr/bin/env python3
"""pylance side of the typed interop tests (lance/types_test.go).

Tables travel as Arrow IPC files, which both sides read and write exactly,
so every Arrow type can be compared value for value.

Usage:
  pylance_arrow.py OPS.json
      runs the operations listed in OPS.json (a JSON list) in this one
      process, in order, and prints a JSON list with one result per
      operation. An operation that raises stops the run with a non-zero exit.

Operations:
  {"op": "write", "path", "ipc", "mode", "options", "known_bugs"?}
      lance.write_dataset(<table in ipc>, path, mode=mode, **options);
      result {"version", "data_storage_version"}. If it raises an error
      containing one of the known_bugs strings (pylance's own bugs), the
      result is {"error": message} instead.
  {"op": "read", "path", "ipc", "version"?}
      writes lance.dataset(path, version).to_table() to ipc; result
      {"version", "rows", "data_storage_version", "files": [[major, minor]...],
      "fragments": [rows per fragment]}.
  {"op": "take", "path", "ipc", "indices": [...]}
      writes lance.dataset(path).take(indices) to ipc (random access through
      the pages' repetition indices and chunk tables).
"""
import json
import sys

import lance
import pyarrow as pa
import pyarrow.ipc as ipc


def read_ipc(path):
    with ipc.open_file(path) as f:
        return f.read_all()


def write_ipc(path, table):
    with ipc.new_file(path, table.schema) as w:
        w.write_table(table)


def describe(ds):
    files = []
    for frag in ds.get_fragments():
        for df in frag.data_files():
            files.append([df.file_major_version, df.file_minor_version])
    return {
        "version": ds.version,
        "rows": ds.count_rows(),
        "data_storage_version": ds.data_storage_version,
        "files": files,
        "fragments": [f.count_rows() for f in ds.get_fragments()],
    }


def op_write(o):
    t = read_ipc(o["ipc"])
    try:
        ds = lance.write_dataset(t, o["path"], mode=o.get("mode", "create"), **o.get("options", {}))
    except Exception as e:
        if any(b in str(e) for b in o.get("known_bugs", [])):
            return {"error": str(e)}
        raise
    return {"version": ds.version, "data_storage_version": ds.data_storage_version}


def op_read(o):
    ds = lance.dataset(o["path"], version=o.get("version"))
    write_ipc(o["ipc"], ds.to_table())
    return describe(ds)


def op_take(o):
    ds = lance.dataset(o["path"])
    write_ipc(o["ipc"], ds.take(o["indices"]))
    return describe(ds)


OPS = {"write": op_write, "read": op_read, "take": op_take}


def main():
    with open(sys.argv[1]) as f:
        ops = json.load(f)
    out = []
    for i, o in enumerate(ops):
        try:
            out.append(OPS[o["op"]](o))
        except Exception:
            print("operation %d failed: %s %s" % (i, o["op"], o.get("path")), file=sys.stderr)
            raise
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
