#!/usr/bin/env bash
# A real Redis Cluster on loopback for tests and CI: three masters and three replicas of redis-server,
# in DIR on ports BASEPORT..BASEPORT+5 (default 7101..7106, clear of a Redis on 6379).
#
#   scripts/redis-cluster.sh start DIR [BASEPORT]        six nodes, the cluster made, waits for cluster_state:ok
#   scripts/redis-cluster.sh stop DIR [BASEPORT]         stops every node of DIR and removes DIR
#   scripts/redis-cluster.sh start-node DIR PORT         one node again (after a test killed it): it rejoins
#                                                        from its nodes-PORT.conf, as a replica if it was failed over
#
# The nodes run with cluster-require-full-coverage no: while one master is down (until its replica is
# promoted) the other masters keep serving their slots, so only the lines on the failed master pause.
set -euo pipefail

usage() {
  echo "usage: $0 start|stop DIR [BASEPORT] | start-node DIR PORT" >&2
  exit 2
}

[ $# -ge 2 ] || usage
command="$1"
dir="$2"
base="${3:-7101}"
nodes=6

start_node() {
  local port="$1"
  redis-server --port "$port" --bind 127.0.0.1 --daemonize yes \
    --cluster-enabled yes --cluster-config-file "nodes-${port}.conf" --cluster-node-timeout 1000 \
    --cluster-require-full-coverage no \
    --save "" --appendonly no --dir "$dir" \
    --pidfile "${dir}/redis-${port}.pid" --logfile "${dir}/redis-${port}.log"
  for _ in $(seq 1 100); do
    redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "redis-server on port ${port} did not answer; its log:" >&2
  cat "${dir}/redis-${port}.log" >&2 || true
  return 1
}

cluster_ok() {
  local port
  for port in "$@"; do
    redis-cli -h 127.0.0.1 -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
  done
}

case "$command" in
  start)
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    ports=()
    for i in $(seq 0 $((nodes - 1))); do ports+=("$((base + i))"); done
    for port in "${ports[@]}"; do
      if redis-cli -h 127.0.0.1 -p "$port" ping >/dev/null 2>&1; then
        echo "port ${port} already answers: stop what runs there, or pass another BASEPORT" >&2
        exit 1
      fi
    done
    for port in "${ports[@]}"; do start_node "$port"; done
    addresses=()
    for port in "${ports[@]}"; do addresses+=("127.0.0.1:${port}"); done
    redis-cli --cluster create "${addresses[@]}" --cluster-replicas 1 --cluster-yes >"${dir}/create.log"
    for _ in $(seq 1 300); do
      if cluster_ok "${ports[@]}"; then
        echo "Redis Cluster ready: redis://127.0.0.1:${base} (ports ${ports[0]}-${ports[-1]}, files in ${dir})"
        exit 0
      fi
      sleep 0.1
    done
    echo "the cluster did not reach cluster_state:ok within 30 s" >&2
    redis-cli -h 127.0.0.1 -p "$base" cluster info >&2 || true
    exit 1
    ;;
  start-node)
    [ $# -eq 3 ] || usage
    dir="$(cd "$dir" && pwd)"
    start_node "$base"
    ;;
  stop)
    [ -d "$dir" ] || exit 0
    for i in $(seq 0 $((nodes - 1))); do
      port=$((base + i))
      pidfile="${dir}/redis-${port}.pid"
      [ -f "$pidfile" ] || continue
      pid="$(cat "$pidfile")"
      # Only a redis-server this script started: the pid file may be stale.
      if [[ "$(cat "/proc/${pid}/comm" 2>/dev/null || true)" == redis-server* ]]; then kill -KILL "$pid" || true; fi
    done
    rm -rf "$dir"
    ;;
  *)
    usage
    ;;
esac
