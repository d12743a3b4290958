#!/usr/bin/env bash
# Proof that the deterministic simulation has teeth: for each deliberate bug in mutations.txt, build the simulation
# against a mutated copy of the consensus core (in a scratch directory; the repository is never touched) and require a
# violation within the seed budget.
#
#   tests/mutations/run.sh                       all mutations, 1000 seeds each (3/5/7 replicas in turn)
#   tests/mutations/run.sh figure8-commit ...    only the named mutations
#   tests/mutations/run.sh --seeds 1000 --start 50001 [NAME...]
#   tests/mutations/run.sh --list
#
# Ends with one line "N passed, N failed" (passed = mutation caught); exits non-zero if any mutation was missed or did
# not apply/build.
set -uo pipefail
# Everything runs inside main (parsed whole before it starts), so editing this file during a run is harmless.
main() {
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
seeds=1000
start=1
names=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seeds) seeds="$2"; shift 2 ;;
    --start) start="$2"; shift 2 ;;
    --list) perl "$here/apply.pl" "$here/mutations.txt" --list; return 0 ;;
    -h|--help) sed -n '2,14p' "$0"; return 0 ;;
    -*) echo "unknown option $1" >&2; return 2 ;;
    *) names+=("$1"); shift ;;
  esac
done
if [ ${#names[@]} -eq 0 ]; then
  mapfile -t names < <(perl "$here/apply.pl" "$here/mutations.txt" --list | cut -f1)
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
scratch="$(mktemp -d /tmp/raftps-mutations.XXXXXX)"
trap 'rm -rf "$scratch"' EXIT
# A pristine copy of what the simulation needs (working tree as it is, without build output).
pristine="$scratch/pristine"
mkdir -p "$pristine"
(cd "$root" && tar --exclude=bin --exclude=obj -cf - Directory.Build.props src tests/RaftPS.Simulation \
   tests/RaftPS.Consensus.Tests \
   $(ls global.json nuget.config NuGet.config 2>/dev/null)) | tar -xf - -C "$pristine"
work="$scratch/work"
cp -r "$pristine" "$work"

passed=0; failed=0; summary=()
for name in "${names[@]}"; do
  echo "== mutation $name"
  # Restore the pristine core (keep obj/bin of the work copy so builds stay incremental).
  rm -rf "$work/src/RaftPS.Consensus"/*.cs
  cp "$pristine/src/RaftPS.Consensus"/*.cs "$work/src/RaftPS.Consensus/"
  cp -r "$pristine/tests/RaftPS.Simulation"/. "$work/tests/RaftPS.Simulation/"
  if ! spec="$(perl "$here/apply.pl" "$here/mutations.txt" "$name" "$work")"; then
    failed=$((failed + 1)); summary+=("NOT APPLIED  $name"); continue
  fi
  check="${spec%% *}"; rest="${spec#* }"; own_seeds="${rest%% *}"; args="${rest#* }"
  # A bug that needs a rarer history declares a larger budget ("seeds:" in mutations.txt); never a smaller one.
  budget=$(( own_seeds > seeds ? own_seeds : seeds ))
  diff -ru -x bin -x obj "$pristine/src" "$work/src" | grep -E "^[-+] " | sed "s/^/   /"
  if [ "$check" = "unit" ]; then
    # A bug no reachable history exposes (see its description in mutations.txt): the unit tests must catch it.
    t0=$(date +%s)
    dotnet test "$work/tests/RaftPS.Consensus.Tests/RaftPS.Consensus.Tests.csproj" -c Release -nologo >"$scratch/unit.log" 2>&1
    rc=$?
    secs=$(( $(date +%s) - t0 ))
    if [ "$rc" != "0" ] && grep -qE "Failed: +[1-9]" "$scratch/unit.log"; then
      first="$(grep -m1 -E '^\s+Failed ' "$scratch/unit.log" | sed 's/^ *//')"
      echo "   caught by unit tests in ${secs}s: $first"
      passed=$((passed + 1)); summary+=("caught       $name  (unit tests: $first)")
    else
      echo "   MISSED by the unit tests (exit $rc, ${secs}s)"; tail -n 5 "$scratch/unit.log"
      failed=$((failed + 1)); summary+=("MISSED       $name  (unit tests)")
    fi
    continue
  fi
  if ! dotnet build "$work/tests/RaftPS.Simulation/RaftPS.Simulation.csproj" -c Release -v q -nologo >"$scratch/build.log" 2>&1; then
    grep -E "error" "$scratch/build.log" | sort -u | head -n 10
    failed=$((failed + 1)); summary+=("BUILD FAILED $name"); continue
  fi
  t0=$(date +%s)
  # shellcheck disable=SC2086 # args is a word list from mutations.txt
  dotnet "$work/tests/RaftPS.Simulation/bin/Release/net10.0/RaftPS.Simulation.dll" --seeds "$budget" --start "$start" \
    --stop-on-failure $args >"$scratch/sim.log" 2>&1
  rc=$?
  secs=$(( $(date +%s) - t0 ))
  json="$(tail -n 1 "$scratch/sim.log")"
  if [ "$rc" = "1" ] && grep -q '"violations":[1-9]' <<<"$json"; then
    first="$(grep -m1 '^FAILED seed' "$scratch/sim.log")"
    echo "   caught in ${secs}s: $first" | cut -c1-300
    passed=$((passed + 1)); summary+=("caught       $name  (${first%%:*}; $(grep -o '"seeds_run":[0-9]*' <<<"$json"))")
  else
    echo "   MISSED: no violation in $budget seeds from $start (exit $rc, ${secs}s)"
    tail -n 3 "$scratch/sim.log"
    failed=$((failed + 1)); summary+=("MISSED       $name")
  fi
done
echo "== summary (seeds $start..$((start + seeds - 1)))"
printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed"
[ "$failed" = "0" ]
}
main "$@"
