"""pylance side of the scalar index tests (lance/index_test.go).

Usage:
  index_pylance.py check
  index_pylance.py create PATH KIND COLUMN...        build indices with pylance
  index_pylance.py query PATH FILTER...              JSON: indices, and per filter plan and rows
  index_pylance.py append PATH N START               append N rows (gen_rows)
  index_pylance.py write PATH N [VERSION]            create a dataset of N rows (default 2.0 files)
  index_pylance.py delete PATH PREDICATE             delete rows
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
        for col in sys.argv[4:]:
            ds.create_scalar_index(col, sys.argv[3])
    elif cmd == "query":
        ds = lance.dataset(sys.argv[2])
        idx = []
        for i in ds.list_indices():
            idx.append({"name": i["name"], "type": i["type"], "fields": i["fields"],
                        "fragment_ids": sorted(i["fragment_ids"])})
        results = []
        for flt in sys.argv[3:]:
            plan = ds.scanner(filter=flt).explain_plan()
            t = ds.to_table(filter=flt, columns=["u"])
            results.append({"filter": flt, "plan": plan, "u": sorted(t.column("u").to_pylist())})
        print(json.dumps({"indices": idx, "version": ds.version, "count": ds.count_rows(),
                          "results": results}))
    elif cmd == "append":
        lance.write_dataset(gen_rows(int(sys.argv[4]), int(sys.argv[3])), sys.argv[2], mode="append")
    elif cmd == "write":
        version = sys.argv[4] if len(sys.argv) > 4 else "2.0"
        lance.write_dataset(gen_rows(0, int(sys.argv[3])), sys.argv[2], data_storage_version=version,
                            max_rows_per_file=int(sys.argv[3]) // 2 + 1)
    elif cmd == "delete":
        lance.dataset(sys.argv[2]).delete(sys.argv[3])
    else:
        raise SystemExit("unknown command " + cmd)


if __name__ == "__main__":
    main()
