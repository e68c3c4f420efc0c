#!/usr/bin/env bash
# MinIO on loopback for the s3:// tests and benchmarks.
#
#   tests/s3/minio.sh install        build the server into $(go env GOPATH)/bin (once, ~2.5 min on 2 cores)
#   tests/s3/minio.sh start DIR [BUCKET...]
#                                    serve DIR on 127.0.0.1 (a free port), create the buckets; prints
#                                    "endpoint=http://127.0.0.1:PORT" and writes DIR/.minio.pid; returns
#                                    once the server answers. Started again after stop, it serves the
#                                    same data (on another port); buckets it already has are kept.
#   tests/s3/minio.sh stop DIR       stop the server started for DIR
#
# Credentials are fixed test values (MINIO_ROOT_USER/PASSWORD below); nothing listens beyond 127.0.0.1.
set -euo pipefail

MINIO_VERSION="${MINIO_VERSION:-latest}"
export MINIO_ROOT_USER="${MINIO_ROOT_USER:-persisting}"
export MINIO_ROOT_PASSWORD="${MINIO_ROOT_PASSWORD:-persisting-secret}"
bin="$(go env GOPATH)/bin/minio"

install() {
  if [ -x "$bin" ]; then return 0; fi
  echo "building MinIO ($MINIO_VERSION) into $bin; this takes a few minutes" >&2
  # GOFLAGS: the Makefile exports -mod=mod for this module; it means nothing to an install@version
  GOFLAGS=-buildvcs=false CGO_ENABLED=0 nice go install "github.com/minio/minio@${MINIO_VERSION}"
  [ -x "$bin" ] || { echo "minio.sh: go install finished but $bin is missing" >&2; exit 1; }
}

free_ports() {
  # Two distinct free ports (both bound at once, so never the same one twice).
  python3 -c 'import socket; a=socket.socket(); b=socket.socket(); a.bind(("127.0.0.1",0)); b.bind(("127.0.0.1",0)); print(a.getsockname()[1], b.getsockname()[1])'
}

start() {
  local dir="$1"; shift
  install
  mkdir -p "$dir/data"
  # A port picked free can be taken before the server binds it: then the
  # server exits and another pair of ports is tried.
  local attempt
  for attempt in 1 2 3 4 5; do
    serve "$dir" "$@" && return 0
  done
  echo "minio.sh: server did not start after 5 attempts; log:" >&2; cat "$dir/minio.log" >&2; exit 1
}

# listens_on PID PORT: whether process PID holds the listening TCP socket of
# PORT. A server that answers on the port may be another one (a concurrent
# test's, which bound the port this one picked first): only the socket's
# owner tells.
listens_on() {
  python3 - "$1" "$2" <<'EOF'
import os, sys
pid, port = sys.argv[1], int(sys.argv[2])
inodes = set()
for fd in os.listdir(f"/proc/{pid}/fd"):
    try:
        link = os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        continue
    if link.startswith("socket:["):
        inodes.add(link[len("socket:["):-1])
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    with open(table) as f:
        for line in f.read().splitlines()[1:]:
            cols = line.split()  # local address (hex ip:port), ..., state (0A: listen), ..., inode
            if int(cols[1].rsplit(":", 1)[1], 16) == port and cols[3] == "0A" and cols[9] in inodes:
                sys.exit(0)
sys.exit(1)
EOF
}

# serve starts one server; returns 1 if it exited before it was ready (or
# another server answers on its port).
serve() {
  local dir="$1"; shift
  local port console
  read -r port console < <(free_ports)
  MINIO_BROWSER=off MINIO_UPDATE=off nohup "$bin" server --quiet --address "127.0.0.1:$port" \
    --console-address "127.0.0.1:$console" "$dir/data" >"$dir/minio.log" 2>&1 &
  local pid=$!
  echo $pid >"$dir/.minio.pid"
  for _ in $(seq 1 600); do
    if ! kill -0 "$pid" 2>/dev/null; then
      return 1
    fi
    if curl -fsS "http://127.0.0.1:$port/minio/health/ready" >/dev/null 2>&1; then
      if ! listens_on "$pid" "$port" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        return 1
      fi
      local b answer
      for b in "$@"; do
        # a bucket kept from an earlier start of DIR is no error
        answer="$(curl -sS -X PUT --aws-sigv4 "aws:amz:us-east-1:s3" --user "$MINIO_ROOT_USER:$MINIO_ROOT_PASSWORD" \
          -w '%{http_code}' "http://127.0.0.1:$port/$b")" || { echo "minio.sh: cannot create bucket $b" >&2; exit 1; }
        case "$answer" in
          *200 | *BucketAlreadyOwnedByYou*409) ;;
          *) echo "minio.sh: cannot create bucket $b: $answer" >&2; exit 1 ;;
        esac
      done
      echo "endpoint=http://127.0.0.1:$port"
      return 0
    fi
    sleep 0.1
  done
  echo "minio.sh: server did not become ready; log:" >&2; cat "$dir/minio.log" >&2; exit 1
}

stop() {
  local dir="$1"
  [ -f "$dir/.minio.pid" ] || return 0
  local pid
  pid="$(cat "$dir/.minio.pid")"
  kill "$pid" 2>/dev/null || true
  # Wait until it has exited, so a caller may remove its data directory
  # (it writes .minio.sys until it is gone); SIGKILL after 20 s.
  for _ in $(seq 200); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -9 "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  rm -f "$dir/.minio.pid"
}

case "${1:-}" in
  install) install ;;
  start) shift; start "${1:?usage: minio.sh start DIR [BUCKET...]}" "${@:2}" ;;
  stop) stop "${2:?usage: minio.sh stop DIR}" ;;
  *) echo "usage: $0 install | start DIR | stop DIR" >&2; exit 2 ;;
esac
