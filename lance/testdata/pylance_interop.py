#!/usr/bin/env python3
"""pylance side of the Go interop tests (lance/interop_test.go).

Usage:
  pylance_interop.py check
      exits 0 if pylance and pyarrow import; prints their versions.
  pylance_interop.py read PATH [VERSION]
      prints JSON describing lance.dataset(PATH).to_table().
  pylance_interop.py write PATH MODE JSON [OPTIONS_JSON]
      writes the table described by JSON with lance.write_dataset(mode=MODE);
      OPTIONS_JSON holds extra write_dataset keyword arguments.
  pylance_interop.py commit-stale PATH READ_VERSION JSON
      appends JSON as a commit built on READ_VERSION (forces conflict checks).
  pylance_interop.py index PATH COLUMN
      creates a BTREE scalar index on COLUMN.
  pylance_interop.py query PATH PREDICATE
      prints the filtered table, the index names and the config.
  pylance_interop.py append-loop PATH JSON_LIST
      appends each table of the list, one write_dataset call each.
  pylance_interop.py delete PATH PREDICATE
  pylance_interop.py add-columns PATH JSON
      ds.add_columns({name: sql_expression}) (new data files per fragment).
  pylance_interop.py add-null-columns PATH JSON
      ds.add_columns(pa.schema(...)) for [{"name", "type"}] (schema only).
  pylance_interop.py alter-type PATH NAME TYPE
      ds.alter_columns({"path": NAME, "data_type": TYPE}) (rewrites the column).
  pylance_interop.py drop-columns PATH JSON
      ds.drop_columns(JSON list of names) (schema only: the data files keep them).
  pylance_interop.py txn PATH VERSION
      prints the operation name and read version of VERSION's transaction.
  pylance_interop.py compact PATH TARGET_ROWS
      ds.optimize.compact_files(target_rows_per_fragment=TARGET_ROWS).
  pylance_interop.py cleanup PATH OLDER_THAN_SECONDS
      ds.cleanup_old_versions(older_than=timedelta(seconds=...)).
  pylance_interop.py tag PATH NAME VERSION
      creates tag NAME for VERSION.

Any argument written "@FILE" is replaced by the contents of FILE.

Tables are JSON objects {"columns": [{"name", "type", "values"}]} with type
one of TYPES' names. Floats travel as float.hex() strings so they compare
exactly (inside lists: plain JSON numbers); nulls are JSON null.
"""
import json
import sys

import lance
import pyarrow as pa

TYPES = {
    "int64": pa.int64(),
    "int32": pa.int32(),
    "float64": pa.float64(),
    "float32": pa.float32(),
    "bool": pa.bool_(),
    "string": pa.string(),
    "large_string": pa.large_string(),
    "list<int64>": pa.list_(pa.int64()),
    "large_list<string>": pa.large_list(pa.string()),
    "fixed_size_list<float32,2>": pa.list_(pa.float32(), 2),
    "struct<a:int64>": pa.struct([("a", pa.int64())]),
}


def type_name(t):
    for name, typ in TYPES.items():
        if t == typ:
            return name
    return str(t)


def encode_value(t, v):
    if v is None:
        return None
    if pa.types.is_floating(t):
        return float(v).hex()
    return v


def decode_value(t, v):
    if v is None:
        return None
    if pa.types.is_floating(t):
        return float.fromhex(v)
    return v


def table_from_json(spec):
    arrays, fields = [], []
    for col in spec["columns"]:
        t = TYPES[col["type"]]
        arrays.append(pa.array([decode_value(t, v) for v in col["values"]], type=t))
        fields.append(pa.field(col["name"], t, nullable=col.get("nullable", True)))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def table_to_json(tbl):
    cols = []
    for field, col in zip(tbl.schema, tbl.columns):
        cols.append({
            "name": field.name,
            "type": type_name(field.type),
            "nullable": field.nullable,
            "values": [encode_value(field.type, v) for v in col.to_pylist()],
        })
    return {"columns": cols}


def cmd_read(path, version=None):
    ds = lance.dataset(path, version=int(version) if version else None)
    out = table_to_json(ds.to_table())
    out["version"] = ds.version
    out["count_rows"] = ds.count_rows()
    out["data_storage_version"] = ds.data_storage_version
    out["versions"] = [
        {"version": v["version"], "timestamp": v["timestamp"].timestamp()} for v in ds.versions()
    ]
    out["fragments"] = [f.count_rows() for f in ds.get_fragments()]
    out["config"] = dict(ds.config())
    out["latest_version"] = lance.dataset(path).version
    json.dump(out, sys.stdout)


def cmd_write(path, mode, spec, options=None):
    kwargs = json.loads(options) if options else {}
    ds = lance.write_dataset(table_from_json(json.loads(spec)), path, mode=mode, **kwargs)
    json.dump({"version": ds.version, "data_storage_version": ds.data_storage_version}, sys.stdout)


def cmd_commit_stale(path, read_version, spec):
    # Append as a writer that read version READ_VERSION: pylance must load
    # the transactions of every later version (ours included) to check for
    # conflicts before it rebuilds its commit on the latest version.
    frags = lance.fragment.write_fragments(
        table_from_json(json.loads(spec)), path,
        data_storage_version=lance.dataset(path).data_storage_version)
    ds = lance.LanceDataset.commit(path, lance.LanceOperation.Append(frags), read_version=int(read_version))
    json.dump({"version": ds.version}, sys.stdout)


def cmd_index(path, column):
    ds = lance.dataset(path)
    ds.create_scalar_index(column, index_type="BTREE")
    json.dump({"version": lance.dataset(path).version}, sys.stdout)


def cmd_query(path, predicate):
    # Filtered scan (uses scalar indices when present) plus the index list.
    ds = lance.dataset(path)
    out = table_to_json(ds.to_table(filter=predicate))
    out["version"] = ds.version
    out["indices"] = [i["name"] for i in ds.list_indices()] if hasattr(ds, "list_indices") else []
    out["config"] = dict(ds.config())
    json.dump(out, sys.stdout)


def cmd_append_loop(path, specs):
    # Appends each table of the JSON list in turn (racing a Go writer that
    # commits in a tight loop). pylance gives up with "Commit conflict" after
    # 20 lost races in a row; like any pylance user, it then tries again.
    for spec in json.loads(specs):
        for attempt in range(50):
            try:
                lance.write_dataset(table_from_json(spec), path, mode="append")
                break
            except OSError as exc:
                if "Commit conflict" not in str(exc) or attempt == 49:
                    raise
    json.dump({"version": lance.dataset(path).version}, sys.stdout)


def cmd_delete(path, predicate):
    ds = lance.dataset(path)
    ds.delete(predicate)
    json.dump({"version": lance.dataset(path).version}, sys.stdout)


def cmd_add_columns(path, spec):
    ds = lance.dataset(path)
    ds.add_columns(json.loads(spec))
    json.dump({"version": lance.dataset(path).version}, sys.stdout)


def cmd_add_null_columns(path, spec):
    ds = lance.dataset(path)
    ds.add_columns(pa.schema([pa.field(c["name"], TYPES[c["type"]]) for c in json.loads(spec)]))
    json.dump({"version": lance.dataset(path).version}, sys.stdout)


def cmd_alter_type(path, name, typ):
    ds = lance.dataset(path)
    ds.alter_columns({"path": name, "data_type": TYPES[typ]})
    json.dump({"version": lance.dataset(path).version}, sys.stdout)


def cmd_drop_columns(path, names):
    ds = lance.dataset(path)
    ds.drop_columns(json.loads(names))
    json.dump({"version": lance.dataset(path).version}, sys.stdout)


def cmd_txn(path, version):
    txn = lance.dataset(path).read_transaction(int(version))
    json.dump({"operation": type(txn.operation).__name__, "read_version": txn.read_version}, sys.stdout)


def cmd_compact(path, target):
    ds = lance.dataset(path)
    m = ds.optimize.compact_files(target_rows_per_fragment=int(target))
    json.dump({"version": lance.dataset(path).version, "fragments_removed": m.fragments_removed,
               "fragments_added": m.fragments_added}, sys.stdout)


def cmd_cleanup(path, older_than):
    import datetime
    ds = lance.dataset(path)
    s = ds.cleanup_old_versions(older_than=datetime.timedelta(seconds=float(older_than)),
                                error_if_tagged_old_versions=False)
    json.dump({"old_versions": s.old_versions, "bytes_removed": s.bytes_removed}, sys.stdout)


def cmd_tag(path, name, version):
    lance.dataset(path).tags.create(name, int(version))
    json.dump({}, sys.stdout)


def main(argv):
    # An argument "@FILE" stands for the contents of FILE (big tables do not
    # fit on a command line).
    argv = [open(a[1:]).read() if a.startswith("@") else a for a in argv]
    cmd = argv[1]
    if cmd == "check":
        print(lance.__version__, pa.__version__)
    elif cmd == "read":
        cmd_read(*argv[2:])
    elif cmd == "write":
        cmd_write(*argv[2:])
    elif cmd == "commit-stale":
        cmd_commit_stale(*argv[2:])
    elif cmd == "index":
        cmd_index(*argv[2:])
    elif cmd == "query":
        cmd_query(*argv[2:])
    elif cmd == "append-loop":
        cmd_append_loop(*argv[2:])
    elif cmd == "delete":
        cmd_delete(*argv[2:])
    elif cmd == "add-columns":
        cmd_add_columns(*argv[2:])
    elif cmd == "add-null-columns":
        cmd_add_null_columns(*argv[2:])
    elif cmd == "alter-type":
        cmd_alter_type(*argv[2:])
    elif cmd == "drop-columns":
        cmd_drop_columns(*argv[2:])
    elif cmd == "txn":
        cmd_txn(*argv[2:])
    elif cmd == "compact":
        cmd_compact(*argv[2:])
    elif cmd == "cleanup":
        cmd_cleanup(*argv[2:])
    elif cmd == "tag":
        cmd_tag(*argv[2:])
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
