#!/usr/bin/env bash
# Runs the 3-node cluster of examples/cluster.json (127.0.0.1:7001-7003) on this machine: one `raftps node` per member in
# the background, pid in RUN_DIR/<id>.pid, ready line in RUN_DIR/<id>.out, log in RUN_DIR/<id>.log. Ctrl+C, SIGTERM or
# any failure of this script stops all three (SIGTERM, then SIGKILL after 5 s).
#
#   examples/local-cluster.sh [RUN_DIR]          RUN_DIR defaults to ./raftps-local (data survives restarts)
#   CLUSTER=examples/cluster.txt examples/local-cluster.sh
#   RAFTPS="dotnet path/to/raftps.dll" examples/local-cluster.sh
#
# Then, in another terminal:  raftps status -c examples/cluster.json ;  raftps put greeting hello -c examples/cluster.json
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cluster="${CLUSTER:-$here/cluster.json}"
run_dir="${1:-$PWD/raftps-local}"
ids=(n1 n2 n3)

if [[ -n "${RAFTPS:-}" ]]; then
  read -r -a raftps <<< "$RAFTPS"
elif command -v raftps >/dev/null 2>&1; then
  raftps=(raftps)
elif [[ -f "$here/../src/RaftPS.Cli/bin/Release/net10.0/raftps.dll" ]]; then
  raftps=(dotnet "$here/../src/RaftPS.Cli/bin/Release/net10.0/raftps.dll")
else
  echo "raftps not found: build it (dotnet build src/RaftPS.Cli -c Release) or set RAFTPS" >&2
  exit 2
fi

mkdir -p "$run_dir"
pids=()

stop_nodes() {
  trap - EXIT INT TERM
  ((${#pids[@]})) || return 0
  echo "stopping ${ids[*]}..."
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for _ in $(seq 50); do
    alive=0
    for pid in "${pids[@]}"; do if kill -0 "$pid" 2>/dev/null; then alive=1; fi; done
    if ((alive == 0)); then break; fi
    sleep 0.1
  done
  kill -KILL "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
  for id in "${ids[@]}"; do rm -f "$run_dir/$id.pid"; done
  echo "stopped"
}
trap stop_nodes EXIT
trap 'exit 130' INT TERM

for id in "${ids[@]}"; do
  if [[ -f "$run_dir/$id.pid" ]] && kill -0 "$(<"$run_dir/$id.pid")" 2>/dev/null; then
    echo "$id already runs as pid $(<"$run_dir/$id.pid") (remove $run_dir/$id.pid if it does not)" >&2
    exit 1
  fi
  "${raftps[@]}" node --id "$id" --cluster "$cluster" --data "$run_dir/$id" --log-level info \
    >"$run_dir/$id.out" 2>"$run_dir/$id.log" &
  pids+=($!)
  echo $! > "$run_dir/$id.pid"
done

# Bounded wait for every ready line ("raftps node n1 listening on 127.0.0.1:7001 (cluster demo)").
for id in "${ids[@]}"; do
  for _ in $(seq 200); do
    grep -q "listening on" "$run_dir/$id.out" 2>/dev/null && break
    if ! kill -0 "$(<"$run_dir/$id.pid")" 2>/dev/null; then
      echo "$id exited before it was ready; its log:" >&2
      tail -n 20 "$run_dir/$id.log" >&2
      exit 1
    fi
    sleep 0.1
  done
  grep -q "listening on" "$run_dir/$id.out" || { echo "$id not ready after 20 s; see $run_dir/$id.log" >&2; exit 1; }
  echo "$(head -n 1 "$run_dir/$id.out")  (pid $(<"$run_dir/$id.pid"))"
done
echo "cluster up; data and logs in $run_dir. Press Ctrl+C to stop."

# Watch the nodes: if one dies, say so and stop the rest.
while :; do
  for i in "${!ids[@]}"; do
    if ! kill -0 "${pids[$i]}" 2>/dev/null; then
      echo "${ids[$i]} (pid ${pids[$i]}) exited; last log lines:" >&2
      tail -n 10 "$run_dir/${ids[$i]}.log" >&2
      exit 1
    fi
  done
  sleep 1
done
