# The pylance half of bench/sizes, a child process that takes commands on
# stdin so the two sides' writes interleave round by round (a busy machine
# then slows both alike):
#
#   write SRC   write the Arrow IPC file SRC with lance.write_dataset (data
#               storage version 2.2, no general compression) to SRC.pylance,
#               replacing it; reply {"write": s, "writecpu": s}
#   finish SRC  time a full scan (wall and CPU, best of ROUNDS x SCANREPS)
#               and a read of the last row of SRC.pylance (best of ROUNDS);
#               reply {"bytes": n, "scan": s,
#               "scancpu": s, "get": s}
#
# Replies are one JSON object per line on stdout.
import json
import os
import shutil
import sys
import time

import lance
import pyarrow.ipc as ipc

rounds = int(os.environ.get("ROUNDS", "3"))
scan_reps = int(os.environ.get("SCANREPS", "1"))
tables = {}


def table_of(src):
    if src not in tables:
        with ipc.open_file(src) as f:
            tables[src] = f.read_all()
    return tables[src]


def write(src):
    table = table_of(src)
    out = src + ".pylance"
    shutil.rmtree(out, ignore_errors=True)
    c0 = time.process_time()
    t0 = time.perf_counter()
    lance.write_dataset(table, out, data_storage_version="2.2")
    return {"write": time.perf_counter() - t0, "writecpu": time.process_time() - c0}


def finish(src):
    table = tables.pop(src)
    out = src + ".pylance"
    data = os.path.join(out, "data")
    size = sum(os.path.getsize(os.path.join(data, n)) for n in os.listdir(data))
    ds = lance.dataset(out)
    scan = scancpu = get = 1e9
    for _ in range(rounds):
        for _ in range(scan_reps):
            c0 = time.process_time()
            t0 = time.perf_counter()
            ds.to_table()
            scan = min(scan, time.perf_counter() - t0)
            scancpu = min(scancpu, time.process_time() - c0)
        t0 = time.perf_counter()
        ds.take([table.num_rows - 1])
        get = min(get, time.perf_counter() - t0)
    return {"bytes": size, "scan": scan, "scancpu": scancpu, "get": get}


for line in sys.stdin:
    op, src = line.rstrip("\n").split(" ", 1)
    reply = write(src) if op == "write" else finish(src)
    print(json.dumps(reply), flush=True)
