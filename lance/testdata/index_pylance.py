"""pylance side of the scalar index tests (lance/index_test.go).

Usage:
  index_pylance.py check
  index_pylance.py create PATH COLUMN KIND           build an index with pylance
  index_pylance.py query PATH FILTER                 JSON: indices, plan, rows
  index_pylance.py append PATH N START               append N rows (gen_rows)
  index_pylance.py write PATH N                      create a dataset of N rows (2.0 files)
"""
import json
import sys

import lance
import pyarrow as pa


def gen_rows(start, n):
    """Rows start..start+n-1; must match indexRow in index_test.go."""
    k, s, f, b, u = [], [], [], [], []
    for i in range(start, start + n):
        k.append(None if i % 11 == 5 else i % 7)
        s.append(None if i % 13 == 4 else "cat-%d" % (i % 5))
        f.append(None if i % 17 == 3 else (i % 6) * 0.5 - 1.0)
        b.append(None if i % 19 == 7 else i % 3 == 0)
        u.append(i)
    return pa.table({
        "k": pa.array(k, pa.int64()),
        "s": pa.array(s, pa.string()),
        "f": pa.array(f, pa.float64()),
        "b": pa.array(b, pa.bool_()),
        "u": pa.array(u, pa.uint32()),
    })


def jsonable(v):
    if isinstance(v, float) and v != v:
        return "NaN"
    return v


def main():
    cmd = sys.argv[1]
    if cmd == "check":
        print(lance.__version__)
    elif cmd == "create":
        ds = lance.dataset(sys.argv[2])
        ds.create_scalar_index(sys.argv[3], sys.argv[4])
    elif cmd == "query":
        ds = lance.dataset(sys.argv[2])
        flt = sys.argv[3]
        idx = []
        for i in ds.list_indices():
            idx.append({"name": i["name"], "type": i["type"], "fields": i["fields"],
                        "fragment_ids": sorted(i["fragment_ids"])})
        plan = ds.scanner(filter=flt).explain_plan()
        t = ds.to_table(filter=flt, columns=["u"])
        print(json.dumps({"indices": idx, "plan": plan, "version": ds.version,
                          "u": sorted(t.column("u").to_pylist()),
                          "count": ds.count_rows()}))
    elif cmd == "append":
        lance.write_dataset(gen_rows(int(sys.argv[4]), int(sys.argv[3])), sys.argv[2], mode="append")
    elif cmd == "write":
        lance.write_dataset(gen_rows(0, int(sys.argv[3])), sys.argv[2], data_storage_version="2.0")
    else:
        raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    main()
