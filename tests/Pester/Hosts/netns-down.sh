#!/usr/bin/env bash
# Removes what netns-up.sh STATE_DIR created, in reverse order: every process left in the namespaces (sshd, pwsh
# sessions, nodes) is killed by pid, the namespaces and the bridge are deleted, the state directory is removed.
# Idempotent and safe after a partial setup: it only touches names listed in STATE_DIR/created.
set -uo pipefail
state=${1:?usage: netns-down.sh STATE_DIR}
created="$state/created"
[ -f "$created" ] || { rm -rf "$state"; exit 0; }

tac "$created" | while read -r kind name; do
  case "$kind" in
    sshd)
      pid=$(cat "$name" 2>/dev/null || true)
      [ -n "$pid" ] && kill "$pid" 2>/dev/null
      ;;
    netns)
      if ip netns list | grep -qw "$name"; then
        for pid in $(ip netns pids "$name" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
        # The processes must be gone before the namespace is: bounded wait.
        for _ in $(seq 1 50); do [ -z "$(ip netns pids "$name" 2>/dev/null)" ] && break; sleep 0.1; done
        ip netns del "$name" 2>/dev/null
      fi
      ;;
    veth)
      # Deleting one end deletes the pair; the namespace may otherwise keep it alive while it winds down.
      ip link del "$name" 2>/dev/null
      ;;
    bridge)
      ip link del "$name" 2>/dev/null
      ;;
  esac
done
rm -rf "$state"
exit 0
