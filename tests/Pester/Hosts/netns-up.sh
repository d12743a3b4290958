#!/usr/bin/env bash
# Creates three stand-in "hosts" for RaftPS drills on this machine: three network namespaces joined by a bridge
# (veth pairs) on a private /24 that nothing else here uses, each with its own sshd whose `powershell` subsystem is
# the given pwsh (key authentication only). Run as root.
#
#   netns-up.sh STATE_DIR PWSH_COMMAND...     e.g. netns-up.sh /tmp/x /usr/bin/dotnet /path/pwsh.dll
#
# Everything created is recorded in STATE_DIR/created (one "kind name" per line, written before each step), so
# netns-down.sh STATE_DIR removes exactly that, also after a failure half way. Names carry a random run id, so a
# leftover from an earlier run never collides. On success it writes STATE_DIR/hosts.json (the drills' hosts file)
# and prints its path.
set -euo pipefail

state=${1:?usage: netns-up.sh STATE_DIR PWSH_COMMAND...}
shift
[ $# -ge 1 ] || { echo "netns-up.sh: the pwsh command is missing" >&2; exit 2; }
pwsh_cmd="$*"
[ "$(id -u)" = 0 ] || { echo "netns-up.sh: must run as root" >&2; exit 2; }
command -v ip >/dev/null || { echo "netns-up.sh: 'ip' (iproute2) is required" >&2; exit 2; }

mkdir -p "$state"
chmod 700 "$state"
created="$state/created"
: >>"$created"
note() { echo "$1 $2" >>"$created"; }

if ! [ -x /usr/sbin/sshd ]; then
  echo "netns-up.sh: installing openssh-server" >&2
  # A fresh image may have no package lists yet: update once if the first attempt finds no candidate.
  DEBIAN_FRONTEND=noninteractive apt-get install -y openssh-server >"$state/apt.log" 2>&1 ||
    { apt-get update >>"$state/apt.log" 2>&1 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y openssh-server >>"$state/apt.log" 2>&1; } ||
    { echo "netns-up.sh: apt-get install openssh-server failed (see $state/apt.log)" >&2; exit 3; }
fi
mkdir -p /run/sshd

# A /24 in 10.0.0.0/8 that no interface or route here touches.
in_use=$(ip -4 -o addr show; ip -4 route show table all 2>/dev/null || true)
subnet=""
for _ in $(seq 1 50); do
  candidate="10.$((RANDOM % 54 + 200)).$((RANDOM % 250 + 1))"
  if ! grep -q "${candidate}\." <<<"$in_use"; then subnet=$candidate; break; fi
done
[ -n "$subnet" ] || { echo "netns-up.sh: no free private /24 found" >&2; exit 3; }

run=$(head -c 3 /dev/urandom | od -An -tx1 | tr -d ' \n')
bridge="rpb$run"
note bridge "$bridge"
ip link add "$bridge" type bridge
ip addr add "$subnet.1/24" dev "$bridge"
ip link set "$bridge" up

ssh-keygen -q -t ed25519 -N '' -C "raftps-drill-$run" -f "$state/client_key"
ssh-keygen -q -t ed25519 -N '' -C "raftps-drill-host-$run" -f "$state/host_key"
cp "$state/client_key.pub" "$state/authorized_keys"

hosts_json="["
for i in 1 2 3; do
  ns="rpns-$run-$i"
  host_if="rpv$run$i"
  ns_if="rpn$run$i"
  addr="$subnet.$((10 + i))"
  note netns "$ns"
  ip netns add "$ns"
  note veth "$host_if"
  ip link add "$host_if" type veth peer name "$ns_if" netns "$ns"
  ip link set "$host_if" master "$bridge" up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$addr/24" dev "$ns_if"
  ip -n "$ns" link set "$ns_if" up

  cat >"$state/sshd-$i.conf" <<CONF
ListenAddress $addr:22
HostKey $state/host_key
PidFile $state/sshd-$i.pid
AuthorizedKeysFile $state/authorized_keys
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
Subsystem powershell $pwsh_cmd -sshs -NoLogo -NoProfile
CONF
  ip netns exec "$ns" /usr/sbin/sshd -f "$state/sshd-$i.conf" -D -E "$state/sshd-$i.log" </dev/null >/dev/null 2>&1 &
  echo $! >"$state/sshd-$i.launcher-pid"
  note sshd "$state/sshd-$i.launcher-pid"
  [ "$i" = 1 ] || hosts_json+=","
  hosts_json+="{\"Address\":\"$addr\",\"User\":\"root\",\"KeyFile\":\"$state/client_key\",\"Port\":22,\"Namespace\":\"$ns\",\"Link\":\"$host_if\"}"
done
hosts_json+="]"

# Wait (bounded) until every sshd accepts connections.
for i in 1 2 3; do
  addr="$subnet.$((10 + i))"
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/$addr/22") 2>/dev/null; then break; fi
    sleep 0.1
  done
  (exec 3<>"/dev/tcp/$addr/22") 2>/dev/null || { echo "netns-up.sh: sshd on $addr did not start (see $state/sshd-$i.log)" >&2; exit 4; }
done

echo "$hosts_json" >"$state/hosts.json"
echo "$state/hosts.json"
