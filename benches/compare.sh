#!/usr/bin/env bash
# Compare switchboard with nats-server under benches/loadgen (our raw-TCP load generator).
#
# Each run starts a fresh server on a free 127.0.0.1 port, runs one loadgen scenario against
# it, records the server's CPU seconds (/proc/PID/stat utime+stime, after start-up to after
# the run) and peak RSS (VmHWM), and stops it. Servers alternate within a round (A B A B ...).
# Results go to a JSON-lines file (one line per run) and a table of medians is printed.
#
# usage: benches/compare.sh [options]
#   --switchboard PATH   switchboard binary ($CARGO_TARGET_DIR or target, /release/switchboard); run as
#                        `PATH serve -a 127.0.0.1 -p PORT`
#   --skip-switchboard   compare only the nats-server binaries
#   --self-test          nats-server as both A and B (instead of switchboard), for the noise floor
#   --nats PATH          nats-server binary (first nats-server on PATH)
#   --no-debian          do not include Debian's nats-server (/usr/sbin or /usr/bin) even if installed
#   --rounds N           rounds (3)
#   --seconds S          publishing seconds per run (2)
#   --sizes "16 1024"    payload sizes
#   --scenarios "..."    (pub1 pub4 pubsub fanout queue fanin-star fanin-gt reqrep reqrep-paced
#                        slowcons idle); reqrep-paced is request/reply at 1,000 a second.
#                        JetStream: js-async-file js-async-mem js-sync-file js-sync-mem, and
#                        the consumer scenarios js-pull-100 js-pull-1000 js-push-fc
#                        js-ordered-1m js-kv-put js-kv-get (and js-pull-verify-1m, only when
#                        named); none is in the default list; their servers run with
#                        JetStream on, see below
#   --idle-conns N       connections in the idle scenario (10000)
#   --timeout S          loadgen's bound on every wait (10)
#   --loadgen PATH       use this loadgen executable instead of building it
#   --no-pin             do not pin with taskset
#   --out FILE           JSON-lines results (target/bench-results/compare-DATE.jsonl)
#   --record             also run switchboard with recording on (`serve --record FILE`, as
#                        server "switchboard-rec"), print each scenario's throughput ratio
#                        recording-on / recording-off, then replay the last recording into a
#                        fresh switchboard at --speed max and print the replay rate
#                        (e.g. --record --scenarios pubsub)
#   --inspect            also run switchboard with the inspection tap on, as if the window
#                        were open (`serve --inspect`: subject stats, message samples,
#                        latency tracking, snapshots), as server "switchboard-insp"; the
#                        table's ratios then show its cost next to plain switchboard
#   --no-busy-poll       also run switchboard with busy polling off (`serve --busy_poll 0`),
#                        as server "switchboard-nopoll"
#   --jetstream          start every server with JetStream on, for every scenario; without
#                        --scenarios, run the JetStream publish scenarios (js-async-file
#                        js-async-mem js-sync-file js-sync-mem; the consumer scenarios only
#                        when named). A js-* scenario always turns it on.
#   --window N           js-async-*, js-kv-*: acks (gets) outstanding at most (loadgen's
#                        default, 4096)
#   --msgs N             consumer scenarios (js-pull-*, js-push-fc, js-ordered-1m): messages
#                        in the stream (loadgen's defaults: 200,000; 1,000,000 for
#                        js-ordered-1m and js-pull-verify-1m)
#   --store-base DIR     where each JetStream run's fresh store directory is made
#                        ($CARGO_TARGET_DIR or target, /bench-js); it must be on a real disk,
#                        not tmpfs. Each store is removed when its server has stopped.
#   --websocket          start every server with a WebSocket listener too; without
#                        --scenarios, run the WebSocket scenarios ws-pub1 ws-pubsub ws-pub1-z
#                        ws-pubsub-z. A ws-* scenario always turns it on.
#   --leaf               without --scenarios, run the leaf-node scenarios leaf-down and
#                        leaf-up (see below)
#
# Leaf-node runs (leaf-down, leaf-up): each server under test is the leaf of a hub, the
# --nats binary every time (so the hub is the same for every server compared), started
# first on two more free ports with `leafnodes { listen: 127.0.0.1:L }` and pinned with
# loadgen. The server under test starts with `-c FILE`, FILE holding `leafnodes { remotes [
# { url: "nats-leaf://127.0.0.1:L" } ] }`. leaf-down is loadgen's pubsub with the publisher
# on the hub and the subscriber on the leaf (`--port HUB --sub-port LEAF`); leaf-up the
# other way round. Before the clock starts loadgen waits (bounded by --timeout) until a
# probe message crosses, so the link is up and the subscriber's interest is across; every
# message is counted at the subscriber. CPU and RSS are the leaf's (the server under test).
# e.g. benches/compare.sh --leaf --rounds 3 --sizes "16 1024"
#
# WebSocket runs: each server starts with `-c FILE` (switchboard: `serve ... -c FILE`), FILE
# holding `websocket { port: P, no_tls: true, compression: C }`, P a second free port, C true
# for the -z scenarios and false otherwise. Scenario ws-NAME is loadgen's NAME (any throughput
# scenario: pub1 pub4 pubsub fanout queue fanin-star fanin-gt) with every connection upgraded
# to WebSocket on P (`--ws --ws-port P`): the 101 and Sec-WebSocket-Accept checked, masked
# binary frames out, server frames decoded back into the NATS stream, every message counted
# end to end as over TCP. ws-NAME-z adds permessage-deflate (`--ws-compress`; the run fails
# if the server does not grant it): publishers send compressed frames (with a PING after each
# 128 KiB buffer and at most 16 unanswered, as a compressed buffer is a few hundred bytes),
# subscribers inflate what the server compressed.
# e.g. benches/compare.sh --websocket --rounds 3 --sizes "16 1024"
#
# JetStream runs: each server starts with `-js -sd STORE` (switchboard: `serve ... -js -sd
# STORE`, also with --inspect, --record, --no-busy-poll), STORE a fresh directory under
# --store-base. loadgen creates the stream (file or memory), publishes with a reply subject
# per message and checks every PubAck (a run with ack errors fails): js-async-* keep at most
# --window acks outstanding (rate = acked msgs/s), js-sync-* wait for each ack (p50/p99 us).
# For js-*-file runs loadgen also reads the store's allocated size on disk before the server
# stops, and reports it per message (disk_bytes_per_msg, in the table as disk B/msg).
# e.g. benches/compare.sh --scenarios "js-async-file js-async-mem js-sync-file" --sizes "16 1024"
#
# JetStream consumer runs (benches/loadgen/src/js_consume.rs has the details): loadgen
# re-creates the stream BENCH (file storage) and fills it with --msgs messages of each size
# by the async publish above (not timed), then reads them back and checks every delivery by
# the stream sequence in its `$JS.ACK` reply subject:
#   js-pull-100/1000  durable pull consumer, ack explicit, MSG.NEXT batches of 100/1,000 (the
#                     next asked for when half arrived), every message acked; acked msgs/s;
#                     then every sequence delivered, num_ack_pending 0, ack floor = last seq
#   js-push-fc        push consumer, flow control (answered), heartbeats 1 s, ack none;
#                     msgs/s until all N came, each sequence exactly once
#   js-ordered-1m     ordered-consumer replay (push, flow control, mem_storage, ack none)
#                     of 1,000,000 messages, sequences exactly 1..N in order; msgs/s
#   js-kv-put         KV bucket (stream KV_bench as nats.go creates it) puts to 1,000 keys
#                     with --window acks outstanding for --seconds (ops/s), then one at a
#                     time for --seconds/2 (p50/p99)
#   js-kv-get         direct gets of those keys, the same two phases
#   js-pull-verify-1m the pull loop over 1,000,000 messages: none lost, repeats only as
#                     marked redeliveries
# e.g. benches/compare.sh --rounds 5 --scenarios "js-pull-100 js-pull-1000 js-push-fc"
# A stalled read fails after --timeout without progress ("stalled: ..." in the log).
# Environment: CARGO_TARGET_DIR is honoured when building loadgen (with -j1).
#
# Output: progress on stderr; on stdout the pinning note, the load average, and the table
# (`loadgen summarize FILE` prints it again from a saved FILE). Each JSON line is loadgen's
# (scenario, size, msgs, seconds, msgs_per_sec, bytes_per_sec, delivered, latency fields
# p50_us p90_us p99_us max_us for reqrep, connect_per_sec and rss_per_conn_bytes for idle)
# plus "server", "round", "cpu_s" and "hwm_kb"; a failed run is {"failed":true,"error":...}.
# Exit status 1 if any run failed (its logs are kept), 2 on a usage error.
#
# Notes: pinning gives the server one CPU (Go sets GOMAXPROCS=1, tokio one worker) and all
# loadgen threads the rest; on a 2-CPU machine reqrep then has requester and responder on
# one CPU, so its latency is scheduling-bound (compare with --no-pin).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
sb_bin="${CARGO_TARGET_DIR:-$here/target}/release/switchboard"
skip_sb=0
self_test=0
nats_bin=$(command -v nats-server || true)
use_debian=1
rounds=3
seconds=2
sizes="16 1024"
scenarios="pub1 pub4 pubsub fanout queue fanin-star fanin-gt reqrep reqrep-paced slowcons idle"
idle_conns=10000
timeout_s=10
loadgen=""
pin=1
out=""
record=0
inspect=0
nopoll=0
jetstream=0
scenarios_given=0
window=""
msgs=""
store_base="${CARGO_TARGET_DIR:-$here/target}/bench-js"
websocket=0
ws_scenarios="ws-pub1 ws-pubsub ws-pub1-z ws-pubsub-z"
leaf=0
leaf_scenarios="leaf-down leaf-up"
js_scenarios="js-async-file js-async-mem js-sync-file js-sync-mem"

die() { echo "compare.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --switchboard) sb_bin=$2; shift 2 ;;
        --skip-switchboard) skip_sb=1; shift ;;
        --self-test) self_test=1; shift ;;
        --nats) nats_bin=$2; shift 2 ;;
        --no-debian) use_debian=0; shift ;;
        --rounds) rounds=$2; shift 2 ;;
        --seconds) seconds=$2; shift 2 ;;
        --sizes) sizes=$2; shift 2 ;;
        --scenarios) scenarios=$2; scenarios_given=1; shift 2 ;;
        --idle-conns) idle_conns=$2; shift 2 ;;
        --timeout) timeout_s=$2; shift 2 ;;
        --loadgen) loadgen=$2; shift 2 ;;
        --no-pin) pin=0; shift ;;
        --out) out=$2; shift 2 ;;
        --record) record=1; shift ;;
        --inspect) inspect=1; shift ;;
        --no-busy-poll) nopoll=1; shift ;;
        --jetstream) jetstream=1; shift ;;
        --window) window=$2; shift 2 ;;
        --msgs) msgs=$2; shift 2 ;;
        --store-base) store_base=$2; shift 2 ;;
        --websocket) websocket=1; shift ;;
        --leaf) leaf=1; shift ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument $1 (see --help)" ;;
    esac
done

[ "$jetstream" = 1 ] && [ "$scenarios_given" = 0 ] && scenarios=$js_scenarios
[ "$websocket" = 1 ] && [ "$scenarios_given" = 0 ] && scenarios=$ws_scenarios
[ "$leaf" = 1 ] && [ "$scenarios_given" = 0 ] && scenarios=$leaf_scenarios
case " $scenarios " in *" ws-"*) websocket=1 ;; esac
case " $scenarios " in
    *" js-"*) needs_store=1 ;;
    *) needs_store=$jetstream ;;
esac
if [ "$needs_store" = 1 ]; then
    mkdir -p "$store_base" || die "cannot make --store-base $store_base"
    store_base=$(cd "$store_base" && pwd)
    fs_type=$(stat -f -c %T "$store_base" 2>/dev/null || echo unknown)
    case "$fs_type" in
        tmpfs|ramfs) die "--store-base $store_base is on $fs_type; JetStream file stores must be on a real disk" ;;
    esac
fi

# --- every process we start is stopped on exit, every JetStream store removed --------------
pids=()
store=""
cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${pids[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    [ -z "$store" ] || rm -rf "$store"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- servers: "label|style|path"; style is sb (serve subcommand) or nats ----------------------
servers=()
[ -n "$nats_bin" ] && [ -x "$nats_bin" ] || die "no nats-server binary (use --nats PATH)"
# A pyenv shim would be measured as the shim's process: use the binary it points to.
case "$nats_bin" in
    */shims/*) nats_bin=$(pyenv which nats-server 2>/dev/null || echo "$nats_bin") ;;
esac
nats_ver=$("$nats_bin" --version 2>&1 | grep -o 'v[0-9][0-9.]*' | head -1)
if [ "$self_test" = 1 ]; then
    servers+=("nats-A|nats|$nats_bin" "nats-B|nats|$nats_bin")
elif [ "$skip_sb" = 0 ]; then
    [ -x "$sb_bin" ] || die "switchboard binary $sb_bin not found (build it, pass --switchboard, or --skip-switchboard)"
    servers+=("switchboard|sb|$sb_bin")
    [ "$record" = 1 ] && servers+=("switchboard-rec|sbrec|$sb_bin")
    [ "$inspect" = 1 ] && servers+=("switchboard-insp|sbinsp|$sb_bin")
    [ "$nopoll" = 1 ] && servers+=("switchboard-nopoll|sbnopoll|$sb_bin")
fi
[ "$self_test" = 1 ] || servers+=("nats-${nats_ver#v}|nats|$nats_bin")
# Debian's package installs it in /usr/sbin (older layouts: /usr/bin).
deb_bin=""
for candidate in /usr/sbin/nats-server /usr/bin/nats-server; do
    [ -x "$candidate" ] && { deb_bin=$candidate; break; }
done
if [ "$use_debian" = 1 ] && [ -n "$deb_bin" ] && [ "$(readlink -f "$deb_bin")" != "$(readlink -f "$nats_bin")" ]; then
    deb_ver=$("$deb_bin" --version 2>&1 | grep -o 'v[0-9][0-9.]*' | head -1)
    servers+=("nats-deb-${deb_ver#v}|nats|$deb_bin")
fi

# --- loadgen -------------------------------------------------------------------------------
if [ -z "$loadgen" ]; then
    # Its own small package: it builds in a minute, without the broker or the GUI.
    lg_target=${CARGO_TARGET_DIR:-$here/target}/loadgen
    echo "building loadgen (cargo build --release --manifest-path benches/loadgen/Cargo.toml) ..." >&2
    (cd "$here" && cargo build -j1 --release --manifest-path benches/loadgen/Cargo.toml \
        --target-dir "$lg_target" >&2) || die "could not build benches/loadgen"
    loadgen=$lg_target/release/loadgen
    [ -x "$loadgen" ] || die "no loadgen executable at $loadgen"
fi

# --- pinning -------------------------------------------------------------------------------
ncpu=$(nproc 2>/dev/null || echo 1)
srv_pin=()
lg_pin=()
if [ "$pin" = 1 ] && command -v taskset >/dev/null && [ "$ncpu" -ge 2 ]; then
    srv_pin=(taskset -c 0)
    lg_pin=(taskset -c "1-$((ncpu - 1))")
    pin_note="server pinned to CPU 0, loadgen to CPUs 1-$((ncpu - 1)) (taskset)"
else
    pin_note="no CPU pinning (taskset missing, a single CPU, or --no-pin)"
fi

# --- limits --------------------------------------------------------------------------------
need_fd=$((idle_conns + 1000))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need_fd" ]; then
    ulimit -n "$need_fd" 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fi
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need_fd" ]; then
    echo "warning: open-file limit $(ulimit -n) < $need_fd; the idle scenario may fail" >&2
fi

clk_tck=$(getconf CLK_TCK)

free_port() {
    local p i
    for i in $(seq 1 200); do
        p=$((20000 + RANDOM % 12000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            if ! command -v ss >/dev/null || ! ss -Htan "sport = :$p" 2>/dev/null | grep -q .; then
                echo "$p"
                return 0
            fi
        fi
    done
    die "no free port found"
}

cpu_ticks() { # utime + stime of PID
    local rest
    rest=$(sed 's/^.*) //' "/proc/$1/stat")
    # after "pid (comm) ": state=1 ... utime=12 stime=13
    echo "$rest" | awk '{print $12 + $13}'
}

vm_kb() { awk -v f="$2:" '$1 == f {print $2}' "/proc/$1/status"; }

srv_pid=""
js_args=() # -js -sd STORE for a JetStream run, set per run
conf_args=() # -c FILE with the websocket block for a WebSocket run, set per run
ws_port=""
start_server() { # label style path port logfile
    local style=$2 path=$3 port=$4 log=$5 i
    if [ "$style" = sb ]; then
        "${srv_pin[@]}" "$path" serve -a 127.0.0.1 -p "$port" ${js_args[@]+"${js_args[@]}"} ${conf_args[@]+"${conf_args[@]}"} >"$log" 2>&1 &
    elif [ "$style" = sbnopoll ]; then
        "${srv_pin[@]}" "$path" serve -a 127.0.0.1 -p "$port" --busy_poll 0 ${js_args[@]+"${js_args[@]}"} ${conf_args[@]+"${conf_args[@]}"} >"$log" 2>&1 &
    elif [ "$style" = sbinsp ]; then
        "${srv_pin[@]}" "$path" serve -a 127.0.0.1 -p "$port" --inspect ${js_args[@]+"${js_args[@]}"} ${conf_args[@]+"${conf_args[@]}"} >"$log" 2>&1 &
    elif [ "$style" = sbrec ]; then
        # Each recording run writes the same file; the largest is kept for the replay at the end.
        "${srv_pin[@]}" "$path" serve -a 127.0.0.1 -p "$port" --record "$rec_file" ${js_args[@]+"${js_args[@]}"} ${conf_args[@]+"${conf_args[@]}"} >"$log" 2>&1 &
    else
        "${srv_pin[@]}" "$path" -a 127.0.0.1 -p "$port" ${js_args[@]+"${js_args[@]}"} ${conf_args[@]+"${conf_args[@]}"} >"$log" 2>&1 &
    fi
    srv_pid=$!
    pids+=("$srv_pid")
    for i in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null &&
            { [ -z "$ws_port" ] || (exec 3<>"/dev/tcp/127.0.0.1/$ws_port") 2>/dev/null; }; then
            return 0
        fi
        kill -0 "$srv_pid" 2>/dev/null || { echo "server $1 exited at start:" >&2; tail -5 "$log" >&2; return 1; }
        sleep 0.05
    done
    echo "server $1 not listening on $port after 5 s" >&2
    return 1
}

hub_pid=""
start_hub() { # client port, leaf port, logfile: the --nats binary as the leaf-node hub
    local port=$1 leaf_port=$2 log=$3 i
    printf 'leafnodes {\n  listen: "127.0.0.1:%s"\n}\n' "$leaf_port" >"$log.conf"
    "${lg_pin[@]}" "$nats_bin" -a 127.0.0.1 -p "$port" -c "$log.conf" >"$log" 2>&1 &
    hub_pid=$!
    pids+=("$hub_pid")
    for i in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$leaf_port") 2>/dev/null; then
            return 0
        fi
        kill -0 "$hub_pid" 2>/dev/null || { echo "hub exited at start:" >&2; tail -5 "$log" >&2; return 1; }
        sleep 0.05
    done
    echo "hub not listening on $leaf_port after 5 s" >&2
    return 1
}

stop_server() {
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    local keep=() p
    for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    pids=("${keep[@]}")
}

# --- runs ----------------------------------------------------------------------------------
[ -n "$out" ] || out="$here/target/bench-results/compare-$(date +%Y%m%d-%H%M%S).jsonl"
mkdir -p "$(dirname "$out")"
: >"$out"
logdir=$(mktemp -d "${TMPDIR:-/tmp}/sb-compare.XXXXXX")
rec_file="$logdir/record.rec"
kept_rec="$logdir/replay.rec"
kept_msgs=0

for spec in "${servers[@]}"; do echo "server ${spec%%|*}: ${spec##*|}" >&2; done
echo "$pin_note" >&2
echo "rounds=$rounds seconds=$seconds sizes=[$sizes] results -> $out" >&2
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

runs=()
for scen in $scenarios; do
    if [ "$scen" = idle ]; then runs+=("idle:0"); continue; fi
    for size in $sizes; do
        case "$scen" in queue | ws-queue | ws-queue-z) [ "$size" -lt 16 ] && continue ;; esac
        runs+=("$scen:$size")
    done
done

lg_timeout=$(awk -v s="$seconds" -v t="$timeout_s" 'BEGIN {printf "%d", s + 4 * t + 60}')
failed=0
for run in "${runs[@]}"; do
    scen=${run%%:*}
    size=${run#*:}
    for round in $(seq 1 "$rounds"); do
        for spec in "${servers[@]}"; do
            IFS='|' read -r label style path <<<"$spec"
            port=$(free_port)
            log="$logdir/$label-$scen-$size-$round.log"
            js_args=()
            store=""
            if [ "$jetstream" = 1 ] || [ "${scen#js-}" != "$scen" ]; then
                store=$(mktemp -d "$store_base/store.XXXXXX")
                js_args=(-js -sd "$store")
            fi
            conf_args=()
            ws_port=""
            if [ "$websocket" = 1 ]; then
                ws_port=$(free_port)
                while [ "$ws_port" = "$port" ]; do ws_port=$(free_port); done
                case "$scen" in ws-*-z) ws_comp=true ;; *) ws_comp=false ;; esac
                printf 'websocket {\n  port: %s\n  no_tls: true\n  compression: %s\n}\n' \
                    "$ws_port" "$ws_comp" >"$log.conf"
                conf_args=(-c "$log.conf")
            fi
            hub_pid=""
            case "$scen" in leaf-*)
                hub_port=$(free_port)
                hub_leaf=$(free_port)
                while [ "$hub_leaf" = "$hub_port" ]; do hub_leaf=$(free_port); done
                if ! start_hub "$hub_port" "$hub_leaf" "$log.hub"; then
                    failed=$((failed + 1))
                    [ -z "$hub_pid" ] || stop_server "$hub_pid"
                    echo "{\"scenario\":\"$scen\",\"size\":$size,\"failed\":true,\"error\":\"hub did not start\",\"server\":\"$label\",\"round\":$round}" >>"$out"
                    continue
                fi
                printf 'leafnodes {\n  remotes [ { url: "nats-leaf://127.0.0.1:%s" } ]\n}\n' \
                    "$hub_leaf" >"$log.conf"
                conf_args=(-c "$log.conf")
                # The port under test must differ from the hub's.
                while [ "$port" = "$hub_port" ] || [ "$port" = "$hub_leaf" ]; do port=$(free_port); done ;;
            esac
            if ! start_server "$label" "$style" "$path" "$port" "$log"; then
                failed=$((failed + 1))
                stop_server "$srv_pid"
                [ -z "$hub_pid" ] || stop_server "$hub_pid"
                [ -z "$store" ] || rm -rf "$store"
                store=""
                echo "{\"scenario\":\"$scen\",\"size\":$size,\"failed\":true,\"error\":\"server did not start\",\"server\":\"$label\",\"round\":$round}" >>"$out"
                continue
            fi
            pid=$srv_pid
            t0=$(cpu_ticks "$pid")
            args=(--scenario "$scen" --port "$port" --seconds "$seconds" --timeout "$timeout_s" --label "$label")
            # ws-NAME[-z]: loadgen's NAME over WebSocket (loadgen reports it as ws-NAME[-z]).
            case "$scen" in
                ws-*)
                    lg_scen=${scen#ws-}
                    args[1]=${lg_scen%-z}
                    args+=(--ws --ws-port "$ws_port")
                    case "$scen" in *-z) args+=(--ws-compress) ;; esac ;;
                # leaf-NAME: loadgen's pubsub across the link (reported as pubsub: renamed below).
                leaf-down) args[1]=pubsub; args[3]=$hub_port; args+=(--sub-port "$port") ;;
                leaf-up) args[1]=pubsub; args+=(--sub-port "$hub_port") ;;
            esac
            if [ "$scen" = idle ]; then
                args+=(--conns "$idle_conns" --server-pid "$pid")
            else
                args+=(--size "$size")
            fi
            # The store's size on disk is read by loadgen, before the server stops.
            case "$scen" in js-*-file) args+=(--store-dir "$store") ;; esac
            case "$scen" in js-async-* | js-kv-*) [ -z "$window" ] || args+=(--window "$window") ;; esac
            case "$scen" in js-pull-* | js-push-* | js-ordered-*) [ -z "$msgs" ] || args+=(--msgs "$msgs") ;; esac
            # A consumer run fills its stream first and reads it back: loadgen bounds each
            # phase by the message count; this is only the backstop.
            run_timeout=$lg_timeout
            case "$scen" in js-pull-* | js-push-* | js-ordered-*)
                n=${msgs:-1000000}
                run_timeout=$(awk -v t="$timeout_s" -v n="$n" 'BEGIN {printf "%d", 8 * t + n / 3000 + 60}') ;;
            esac
            # In the background and waited for, so that a signal reaches the trap at once.
            timeout "$run_timeout" "${lg_pin[@]}" "$loadgen" "${args[@]}" >"$log.json" 2>"$log.loadgen" &
            lg_pid=$!
            pids+=("$lg_pid")
            set +e
            wait "$lg_pid"
            rc=$?
            set -e
            stop_server "$lg_pid"
            line=$(head -1 "$log.json")
            if kill -0 "$pid" 2>/dev/null; then
                t1=$(cpu_ticks "$pid")
                hwm=$(vm_kb "$pid" VmHWM)
            else
                t1=$t0
                hwm=0
                echo "  server $label died during $scen; log: $log" >&2
                rc=1
            fi
            stop_server "$pid"
            [ -z "$hub_pid" ] || stop_server "$hub_pid"
            [ -z "$store" ] || rm -rf "$store"
            store=""
            case "$scen" in leaf-*) line=${line/\"scenario\":\"pubsub\"/\"scenario\":\"$scen\"} ;; esac
            cpu=$(awk -v a="$t0" -v b="$t1" -v h="$clk_tck" 'BEGIN {printf "%.2f", (b - a) / h}')
            extra="\"server\":\"$label\",\"round\":$round,\"cpu_s\":$cpu,\"hwm_kb\":${hwm:-0}"
            if [ "$style" = sbrec ] && [ -s "$rec_file" ]; then
                # What the recording holds and what it dropped (the file's own END record).
                rec_line=$("$path" info "$rec_file" 2>/dev/null | sed -n 2p)
                rec_n=$(echo "$rec_line" | grep -oE '^[0-9]+' || echo 0)
                rec_d=$(echo "$rec_line" | grep -oE '[0-9]+ dropped' | grep -oE '^[0-9]+' || echo 0)
                extra="$extra,\"recorded\":${rec_n:-0},\"rec_drops\":${rec_d:-0}"
                if [ "${rec_n:-0}" -gt "$kept_msgs" ]; then
                    mv -f "$rec_file" "$kept_rec"
                    kept_msgs=$rec_n
                else
                    rm -f "$rec_file"
                fi
            fi
            if [ "$rc" = 0 ] && [ "${line:0:1}" = "{" ]; then
                echo "${line%\}},$extra}" >>"$out"
                case "$scen" in
                    js-*) shown=$(echo "$line" | grep -o '"\(msgs_per_sec\|p50_us\|p99_us\|disk_bytes_per_msg\)":[0-9.]*' | tr '\n' ' ') ;;
                    *) shown=$(echo "$line" | grep -o '"\(msgs_per_sec\|p50_us\|connect_per_sec\)":[0-9.]*' | head -1) ;;
                esac
                printf '  %-13s %5s round %d %-18s %s\n' "$scen" "$size" "$round" "$label" "$shown" >&2
            else
                failed=$((failed + 1))
                err=$(tail -3 "$log.loadgen" | tr '\n"\\' '  /')
                echo "{\"scenario\":\"$scen\",\"size\":$size,\"failed\":true,\"error\":\"$err\",$extra}" >>"$out"
                echo "  $scen $size round $round $label FAILED (rc $rc): $err" >&2
            fi
        done
    done
done

js_args=() # the replay below runs plain switchboard
conf_args=()
ws_port=""
echo
echo "$pin_note; $ncpu CPUs; ${seconds}s per run, $rounds rounds; results: $out"
echo "load average before: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews results)"
"$loadgen" summarize "$out"

if [ "$record" = 1 ] && [ "$skip_sb" = 0 ] && [ "$self_test" = 0 ]; then
    echo
    echo "recording on / off (median msgs_per_sec of switchboard-rec / switchboard), and the share"
    echo "of the published messages the recording holds (the rest dropped and counted in the file):"
    awk '
        function median(list,   n, a, i, j, t) {
            n = split(list, a, " ")
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
            return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        }
        /"failed":true/ { next }
        {
            if (!match($0, /"scenario":"[^"]*"/)) next; sc = substr($0, RSTART + 12, RLENGTH - 13)
            if (!match($0, /"size":[0-9]+/)) next; sz = substr($0, RSTART + 7, RLENGTH - 7)
            if (!match($0, /"server":"[^"]*"/)) next; sv = substr($0, RSTART + 10, RLENGTH - 11)
            if (!match($0, /"msgs_per_sec":[0-9.]+/)) next; v = substr($0, RSTART + 15, RLENGTH - 15)
            k = sc " " sz
            if (!(k in seen)) { seen[k] = 1; order[++nk] = k }
            if (sv == "switchboard") off[k] = off[k] " " v
            if (sv == "switchboard-rec") on[k] = on[k] " " v
            if (sv == "switchboard-rec" && match($0, /"recorded":[0-9]+/)) {
                r = substr($0, RSTART + 11, RLENGTH - 11)
                d = match($0, /"rec_drops":[0-9]+/) ? substr($0, RSTART + 12, RLENGTH - 12) : 0
                if (r + d > 0) kept[k] = kept[k] " " (r / (r + d))
            }
        }
        END {
            for (i = 1; i <= nk; i++) {
                k = order[i]
                if (off[k] == "" || on[k] == "") continue
                a = median(on[k]); b = median(off[k])
                share = kept[k] == "" ? "-" : sprintf("%.0f%%", 100 * median(kept[k]))
                printf "  %-16s on %12.0f  off %12.0f  ratio %.3f  recorded %s\n", k, a, b, (b > 0 ? a / b : 0), share
            }
        }' "$out"
    if [ -s "$kept_rec" ]; then
        rec_file=$kept_rec
        rec_msgs=$("$sb_bin" info "$rec_file" | awk 'NR == 2 {print $1}')
        rec_bytes=$(stat -c %s "$rec_file")
        port=$(free_port)
        if start_server switchboard sb "$sb_bin" "$port" "$logdir/replay-server.log"; then
            rp_srv=$srv_pid
            t0=$(date +%s.%N)
            if "${lg_pin[@]}" "$sb_bin" replay "$rec_file" --server "nats://127.0.0.1:$port" --speed max >"$logdir/replay.log" 2>&1; then
                t1=$(date +%s.%N)
                awk -v n="$rec_msgs" -v b="$rec_bytes" -v a="$t0" -v z="$t1" 'BEGIN {
                    printf "replay at max speed: %d messages (%.1f MB file) in %.2f s = %.0f msgs/s\n", n, b / 1e6, z - a, n / (z - a) }'
            else
                echo "replay failed:"; tail -3 "$logdir/replay.log"; failed=$((failed + 1))
            fi
            stop_server "$rp_srv"
        fi
        rm -f "$rec_file"
    fi
fi
if [ "$failed" -gt 0 ]; then
    echo "$failed run(s) failed; logs in $logdir" >&2
    exit 1
fi
rm -rf "$logdir"
