#!/usr/bin/env bash
# A tour of the client commands against a running cluster (start one with examples/local-cluster.sh first).
#   examples/client-tour.sh [CLUSTER_FILE]       default: examples/cluster.json
# Every step shows the command and its exit code; see `raftps --help` for what the codes mean.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cluster="${1:-$here/cluster.json}"
if [[ -n "${RAFTPS:-}" ]]; then
  read -r -a raftps <<< "$RAFTPS"
elif command -v raftps >/dev/null 2>&1; then
  raftps=(raftps)
else
  raftps=(dotnet "$here/../src/RaftPS.Cli/bin/Release/net10.0/raftps.dll")
fi

step() {
  echo "\$ raftps $*"
  "${raftps[@]}" "$@" --cluster "$cluster"
  echo "  (exit code $?)"
  echo
}

step status
step put greeting hello
step get greeting
step get greeting --json
step put config/color blue
step put config/size large
step list config/
step list 'config/*' --json
step cas config/color green --expect-value blue
step cas config/color red --expect-value blue    # fails: exit code 5
step delete config/size
step get config/size                             # not found: exit code 4
step get greeting --stale
