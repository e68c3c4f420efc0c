# The pylance half of bench/sizes: for each Arrow IPC file given, write it
# with lance.write_dataset (data storage version 2.2, no general
# compression), best of ROUNDS, also its process CPU time, then time a full scan and a read of the last
# row. Prints one JSON object per input on stdout.
import json
import os
import shutil
import sys
import time

import lance
import pyarrow.ipc as ipc

rounds = int(os.environ.get("ROUNDS", "3"))
for src in sys.argv[1:]:
    with ipc.open_file(src) as f:
        table = f.read_all()
    out = src + ".pylance"
    best = cpu = 1e9
    for _ in range(rounds):
        shutil.rmtree(out, ignore_errors=True)
        c0 = time.process_time()
        t0 = time.perf_counter()
        lance.write_dataset(table, out, data_storage_version="2.2")
        best = min(best, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    data = os.path.join(out, "data")
    size = sum(os.path.getsize(os.path.join(data, n)) for n in os.listdir(data))
    ds = lance.dataset(out)
    scan = get = 1e9
    for _ in range(rounds):
        t0 = time.perf_counter()
        ds.to_table()
        scan = min(scan, time.perf_counter() - t0)
        t0 = time.perf_counter()
        ds.take([table.num_rows - 1])
        get = min(get, time.perf_counter() - t0)
    print(json.dumps({"bytes": size, "write": best, "writecpu": cpu, "scan": scan, "get": get}), flush=True)
