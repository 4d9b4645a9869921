#!/usr/bin/env bash
# Captures real BGP messages between BIRD 2, GoBGP and FRR, for margay's codec tests and fuzz
# seeds. Everything runs in three network namespaces this script creates (and deletes on
# exit); the root namespace is never touched.
#
#   ns bird  (AS 65001, BIRD)  --v12/v21 IPv4 transport, eBGP-->  ns gobgp (AS 4200000002, GoBGP)
#   ns bird  --v13/v31 IPv6 transport, iBGP, ADD-PATH, extended messages-->  ns frr (AS 65001, FRR)
#   ns bird  --v13/v31 IPv4 transport, iBGP, BIRD as a 2-octet ("OLD") speaker (enable as4 off)-->
#            ns frr: GoBGP's routes reach FRR with AS_TRANS in AS_PATH plus AS4_PATH.
#
# Usage: capture.sh OUTDIR    (writes OUTDIR/<stream>/<NNN>-<type>.bin and OUTDIR/MANIFEST)
set -euo pipefail
OUT=$(realpath "${1:?usage: capture.sh OUTDIR}")
HERE=$(dirname "$(realpath "$0")")
SUFFIX=$$
NS_BIRD=mgcap-bird-$SUFFIX NS_GOBGP=mgcap-gobgp-$SUFFIX NS_FRR=mgcap-frr-$SUFFIX
WORK=$(mktemp -d /tmp/margay-capture.XXXXXX)
chmod 755 "$WORK"

cleanup() {
  for ns in $NS_BIRD $NS_GOBGP $NS_FRR; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
  done
}
trap cleanup EXIT

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# wait_for DESCRIPTION COMMAND...: polls COMMAND until it succeeds, for at most 60 s.
wait_for() {
  local what=$1; shift
  for _ in $(seq 1 300); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "timed out waiting for $what" >&2
  return 1
}

for ns in $NS_BIRD $NS_GOBGP $NS_FRR; do
  ip netns add "$ns"
  ip -n "$ns" link set lo up
done
ip -n "$NS_BIRD" link add v12 type veth peer name v21 netns "$NS_GOBGP"
ip -n "$NS_BIRD" link add v13 type veth peer name v31 netns "$NS_FRR"
addr() { ip -n "$1" addr add "$3" dev "$2" ${4:-}; ip -n "$1" link set "$2" up; }
addr "$NS_BIRD" v12 10.12.0.1/24;  addr "$NS_BIRD" v12 2001:db8:12::1/64 nodad
addr "$NS_GOBGP" v21 10.12.0.2/24; addr "$NS_GOBGP" v21 2001:db8:12::2/64 nodad
addr "$NS_BIRD" v13 10.13.0.1/24;  addr "$NS_BIRD" v13 2001:db8:13::1/64 nodad
addr "$NS_FRR" v31 10.13.0.3/24;   addr "$NS_FRR" v31 2001:db8:13::3/64 nodad

ip netns exec "$NS_BIRD" tcpdump -i any --immediate-mode -U -s 0 -w "$WORK/bgp.pcap" 'tcp port 179' >"$WORK/tcpdump.log" 2>&1 &
TCPDUMP_PID=$!  # ip netns exec execs tcpdump: same PID
wait_for "tcpdump" grep -q "listening" "$WORK/tcpdump.log"

cat >"$WORK/bird.conf" <<'BIRD'
router id 10.12.0.1;
log stderr all;
protocol device {}
protocol static s4 { ipv4; route 10.1.0.0/24 blackhole; route 10.1.1.0/24 blackhole; route 10.1.2.0/25 blackhole; }
protocol static s6 { ipv6; route 2001:db8:100::/48 blackhole; route 2001:db8:101:1::/64 blackhole; }
filter decorate {
  if net = 10.1.1.0/24 then {
    bgp_community.add((65001, 100)); bgp_community.add((65535, 65281));
    bgp_large_community.add((65001, 1, 2)); bgp_ext_community.add((rt, 65001, 7));
  }
  if net = 10.1.2.0/25 then { bgp_med = 50; bgp_path.prepend(65001); }
  accept;
}
protocol bgp gobgp {
  local 10.12.0.1 as 65001; neighbor 10.12.0.2 as 4200000002;
  graceful restart on;
  hold time 9; connect delay time 1; connect retry time 2; error wait time 1, 5;
  ipv4 { import all; export filter decorate; };
  ipv6 { import all; export all; next hop address 2001:db8:12::1; };
}
protocol bgp frr {
  local 2001:db8:13::1 as 65001; neighbor 2001:db8:13::3 as 65001;
  enable extended messages on; graceful restart on;
  hold time 9; connect delay time 1; connect retry time 2; error wait time 1, 5;
  ipv4 { import all; export filter decorate; next hop address 10.13.0.1; add paths on; };
  ipv6 { import all; export all; next hop self; };
}
protocol bgp frr4 {
  local 10.13.0.1 as 65001; neighbor 10.13.0.3 as 65001; enable as4 off;
  hold time 9; connect delay time 1; connect retry time 2; error wait time 1, 5;
  ipv4 { import none; export filter decorate; next hop self; };
}
BIRD
in_ns "$NS_BIRD" bird -f -c "$WORK/bird.conf" -s "$WORK/bird.ctl" -P "$WORK/bird.pid" >"$WORK/bird.log" 2>&1 &

cat >"$WORK/gobgpd.toml" <<'GOBGP'
[global.config]
  as = 4200000002
  router-id = "10.12.0.2"
[[neighbors]]
  [neighbors.config]
    neighbor-address = "10.12.0.1"
    peer-as = 65001
  [neighbors.timers.config]
    hold-time = 9
    keepalive-interval = 3
    connect-retry = 2
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv4-unicast"
  [[neighbors.afi-safis]]
    [neighbors.afi-safis.config]
      afi-safi-name = "ipv6-unicast"
GOBGP
in_ns "$NS_GOBGP" gobgpd -f "$WORK/gobgpd.toml" --api-hosts=127.0.0.1:50051 --pprof-disable >"$WORK/gobgpd.log" 2>&1 &

mkdir -p "$WORK/frr" && chown frr:frr "$WORK/frr"
echo "hostname zebra" >"$WORK/frr/zebra.conf"
cat >"$WORK/frr/bgpd.conf" <<'FRR'
frr defaults traditional
hostname frr
router bgp 65001
 bgp router-id 10.13.0.3
 no bgp ebgp-requires-policy
 no bgp network import-check
 timers bgp 3 9
 neighbor 2001:db8:13::1 remote-as 65001
 neighbor 2001:db8:13::1 capability extended-nexthop
 neighbor 10.13.0.1 remote-as 65001
 address-family ipv4 unicast
  network 10.3.0.0/24
  network 10.3.1.0/24
  neighbor 2001:db8:13::1 activate
  neighbor 2001:db8:13::1 addpath-tx-all-paths
  neighbor 10.13.0.1 activate
 exit-address-family
 address-family ipv6 unicast
  network 2001:db8:300::/48
  neighbor 2001:db8:13::1 activate
 exit-address-family
FRR
chown -R frr:frr "$WORK/frr"
frr_daemon() {
  in_ns "$NS_FRR" "/usr/lib/frr/$1" -u frr -g frr -z "$WORK/frr/zserv.api" -i "$WORK/frr/$1.pid" \
    --vty_socket "$WORK/frr" -f "$WORK/frr/$1.conf" -P 0 --log stdout >"$WORK/frr-$1.log" 2>&1 &
}
frr_daemon zebra
wait_for "zebra" test -S "$WORK/frr/zserv.api"
frr_daemon bgpd

established() { birdc -s "$WORK/bird.ctl" show protocols "$1" | grep -q Established; }
wait_for "BIRD-GoBGP Established" established gobgp
wait_for "BIRD-FRR Established" established frr
wait_for "BIRD-FRR (IPv4, 2-octet) Established" established frr4

gobgp_cli() { in_ns "$NS_GOBGP" gobgp "$@"; }
gobgp_cli global rib add -a ipv4 10.2.0.0/24 community 65002:1 med 10 origin egp
gobgp_cli global rib add -a ipv4 10.2.1.0/24 large-community 4200000002:1:2 aigp metric 5 \
  aggregator 4200000002:10.12.0.2
gobgp_cli global rib add -a ipv6 2001:db8:200::/48 nexthop 2001:db8:12::2
gobgp_cli global rib add -a ipv6 2001:db8:201::/48 nexthop 2001:db8:12::2 community 65002:6

# Routes from GoBGP reach FRR through BIRD (merged AS4 path, ADD-PATH, communities).
frr_has() { in_ns "$NS_FRR" vtysh --vty_socket "$WORK/frr" -c "show bgp ipv4 unicast $1" | grep -q "$1"; }
wait_for "10.2.1.0/24 at FRR" frr_has 10.2.1.0/24
wait_for "10.1.1.0/24 at FRR" frr_has 10.1.1.0/24
bird_has() { birdc -s "$WORK/bird.ctl" show route "$1" protocol "$2" | grep -q "$1"; }
wait_for "FRR's IPv6 route at BIRD" bird_has 2001:db8:300::/48 frr

# Withdrawals, a route refresh, then an administrative shutdown with a message (RFC 9003).
gobgp_cli global rib del -a ipv4 10.2.0.0/24
gobgp_cli global rib del -a ipv6 2001:db8:201::/48
frr_lacks() { ! frr_has 10.2.0.0/24; }
wait_for "10.2.0.0/24 withdrawn at FRR" frr_lacks
birdc -s "$WORK/bird.ctl" reload in gobgp >/dev/null
in_ns "$NS_FRR" vtysh --vty_socket "$WORK/frr" -c "clear bgp ipv6 unicast 2001:db8:13::1 soft in" >/dev/null
birdc -s "$WORK/bird.ctl" disable frr '"margay capture: maintenance"' >/dev/null
gobgp_cli neighbor 10.12.0.1 shutdown --reason "margay capture: bye" >/dev/null
# pcap_has PATTERN: the messages captured so far include one matching PATTERN (in MANIFEST).
pcap_has() {
  rm -rf "$WORK/probe" && python3 "$HERE/split_pcap.py" "$WORK/bgp.pcap" "$WORK/probe" >/dev/null &&
    grep -q "$1" "$WORK/probe/MANIFEST"
}
wait_for "BIRD's Cease to FRR in the capture" pcap_has "bird-to-frr-ipv6.*notification"
wait_for "GoBGP's Cease to BIRD in the capture" pcap_has "gobgp-to-bird-ipv4.*notification"
wait_for "BIRD's ROUTE-REFRESH in the capture" pcap_has "bird-to-gobgp-ipv4.*route-refresh"
kill -INT "$TCPDUMP_PID"
wait "$TCPDUMP_PID" || true

python3 "$HERE/split_pcap.py" "$WORK/bgp.pcap" "$OUT"
rm -rf "$WORK"
