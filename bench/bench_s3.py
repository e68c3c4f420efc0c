"""Issue #15's s3:// benchmarks: our writer against pylance on one MinIO.

    python3 bench/bench_s3.py [--quick] [--reps N] [--json out.json]

Starts a MinIO on 127.0.0.1 (tests/s3/minio.sh; built once with go install)
and a request-counting HTTP proxy in front of it, also on 127.0.0.1. Nothing
else is contacted. Measures, in one run:

1. append throughput: put_arrow of 64k-row batches + flush to s3:// against
   pylance write_dataset(mode="append") of the same batches; repetitions
   interleaved, the ratio is the median of per-repetition ratios;
2. requests per flush: the S3 requests (by kind) of one 64k-row append onto
   an existing dataset, ours against pylance's (through the proxy);
3. a get(100, offset) deep in a 1,000-fragment dataset: the requests it costs
   (the dataset is already open), ours and, for context, pylance's
   to_table(offset=..., limit=100) on a dataset opened beforehand.

Throughput goes straight to MinIO (the proxy would add its own latency to both
sides); the request counts go through the proxy. Exits non-zero only when a
measurement raises; a missed target is reported, not asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python"))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("LANCE_LOG", "error")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from bench import make_batch  # noqa: E402  (the same 8-column batches as bench.py)

BUCKET = "bench-s3"
USER, SECRET = "persisting", "persisting-secret"


class Counting:
    """A loopback HTTP proxy to MinIO that counts requests by S3 operation."""

    def __init__(self, upstream: str):
        host, port = upstream.removeprefix("http://").split(":")
        self.counts: Counter = Counter()
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _forward(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                kind = self.command
                if self.command == "GET" and ("list-type=" in self.path or "?prefix=" in self.path
                                              or "&prefix=" in self.path or "delimiter=" in self.path):
                    kind = "LIST"
                with outer.lock:
                    outer.counts[kind] += 1
                conn = http.client.HTTPConnection(host, int(port), timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                self.send_response(resp.status)
                for k, v in resp.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def take(self) -> dict:
        with self.lock:
            out = dict(self.counts)
            self.counts.clear()
        return out


def options(endpoint: str) -> dict:
    return {"aws_endpoint": endpoint, "aws_region": "us-east-1", "aws_access_key_id": USER,
            "aws_secret_access_key": SECRET, "allow_http": "true"}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--json")
    args = ap.parse_args()
    import lance
    from persisting.queue import LanceBackend

    work = Path(tempfile.mkdtemp(prefix="bench-s3-"))
    script = ROOT / "tests" / "s3" / "minio.sh"
    out = subprocess.run([str(script), "start", str(work), BUCKET], capture_output=True, text=True, check=True)
    endpoint = next(line.split("=", 1)[1] for line in out.stdout.splitlines() if line.startswith("endpoint="))
    proxy = Counting(endpoint)
    direct, counted = options(endpoint), options(proxy.endpoint)
    result: dict = {"endpoint": endpoint}
    try:
        nbatches = 2 if args.quick else 8
        reps = 1 if args.quick else args.reps
        batches = [make_batch(65536, i * 65536, seed=i) for i in range(nbatches)]
        mib = sum(b.nbytes for b in batches) / (1 << 20)
        seq = iter(range(10**6))

        def ours(opts=direct, prefix="ours") -> float:
            path = f"s3://{BUCKET}/{prefix}-{next(seq)}/bucket_0"
            b = LanceBackend(0, path, storage_options=opts)

            async def go():
                for batch in batches:
                    await b.put_arrow(batch)
                await b.flush()

            t0 = time.perf_counter()
            asyncio.run(go())
            took = time.perf_counter() - t0
            b.close()
            return took

        def pylance(opts=direct, prefix="pylance") -> float:
            uri = f"s3://{BUCKET}/{prefix}-{next(seq)}/data.lance"
            t0 = time.perf_counter()
            for batch in batches:
                lance.write_dataset(batch, uri, mode="append", storage_options=opts)
            return time.perf_counter() - t0

        ours(), pylance()  # warm-up
        t_ours, t_py = [], []
        for r in range(reps):
            pair = [("ours", ours), ("pylance", pylance)]
            if r % 2:
                pair.reverse()
            for name, fn in pair:
                (t_ours if name == "ours" else t_py).append(fn())
        ratios = [p / o for o, p in zip(t_ours, t_py)]
        result["append"] = {"batches": nbatches, "rows_per_batch": 65536, "input_mib": mib,
                            "ours_s": t_ours, "pylance_s": t_py, "ratio_median": statistics.median(ratios)}

        # 2. requests of one 64k-row append onto an existing dataset
        one = batches[0]
        b = LanceBackend(0, f"s3://{BUCKET}/req-ours/bucket_0", storage_options=counted)
        asyncio.run(b.put_arrow(one))
        asyncio.run(b.flush())
        proxy.take()
        asyncio.run(b.put_arrow(batches[1]))
        asyncio.run(b.flush())
        ours_flush = proxy.take()
        b.close()
        proxy.take()
        b = LanceBackend(0, f"s3://{BUCKET}/req-ours/bucket_0", storage_options=counted)
        ours_open = proxy.take()
        b.close()
        proxy.take()
        uri = f"s3://{BUCKET}/req-pylance/data.lance"
        lance.write_dataset(one, uri, mode="append", storage_options=counted)
        proxy.take()
        lance.write_dataset(batches[1], uri, mode="append", storage_options=counted)
        py_append = proxy.take()
        lance.dataset(uri, storage_options=counted)
        py_open = proxy.take()
        result["requests"] = {"ours_flush": ours_flush, "ours_open": ours_open,
                              "pylance_append": py_append, "pylance_open": py_open}

        # 3. get(100, offset) deep in 1,000 fragments (written by pylance in one commit)
        import pyarrow as pa
        rows = 10_000
        table = pa.table({"id": pa.array(range(rows), pa.int64()),
                          "text": pa.array([f"record {i}" for i in range(rows)])})
        deep = f"s3://{BUCKET}/deep/bucket_0"
        lance.write_dataset(table, f"{deep}/data.lance", max_rows_per_file=10, storage_options=direct)
        b = LanceBackend(0, deep, storage_options=counted)
        proxy.take()
        got = asyncio.run(b.get(limit=100, offset=7_005))
        ours_get = proxy.take()
        b.close()
        assert [r["id"] for r in got] == list(range(7_005, 7_105)), "deep get returned the wrong rows"
        ds = lance.dataset(f"{deep}/data.lance", storage_options=counted)
        proxy.take()
        ptab = ds.to_table(offset=7_005, limit=100)
        py_get = proxy.take()
        assert ptab.column("id").to_pylist() == list(range(7_005, 7_105))
        result["deep_get"] = {"fragments": len(ds.get_fragments()), "ours": ours_get, "pylance": py_get}
    finally:
        proxy.server.shutdown()
        subprocess.run([str(script), "stop", str(work)])

    a = result["append"]
    print(f"1. put_arrow {a['batches']}x64k+flush to s3:// vs pylance append: ours "
          f"{statistics.median(a['ours_s']):.2f}s ({a['input_mib'] / statistics.median(a['ours_s']):.0f} MiB/s), "
          f"pylance {statistics.median(a['pylance_s']):.2f}s; ratio {a['ratio_median']:.2f}x (target >= 1.0x)")
    rq = result["requests"]
    print(f"2. requests per 64k-row append: ours {rq['ours_flush']}, pylance {rq['pylance_append']}; "
          f"open: ours {rq['ours_open']}, pylance {rq['pylance_open']}")
    d = result["deep_get"]
    print(f"3. get(100, offset=7005) in {d['fragments']} fragments: ours {d['ours']}, pylance to_table {d['pylance']}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
