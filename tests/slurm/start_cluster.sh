#!/usr/bin/env bash
# Start a throw-away single-node SLURM cluster on localhost (as root), for tests.
#
#   tests/slurm/start_cluster.sh [STATE_DIR]        (default: /tmp/styleflow-slurm)
#
# What it does, in order, recording every change in STATE_DIR/manifest so that
# tests/slurm/stop_cluster.sh can undo exactly that and nothing else:
#   1. installs slurmctld, slurmd, slurm-client and munge with apt-get if missing
#      (Debian packages; services are not started by the packages: policy-rc.d);
#   2. creates a munge key if there is none, starts munged as user munge unless a
#      working munged is already running (then it is reused and left alone);
#   3. writes /etc/slurm/slurm.conf and /etc/slurm/gres.conf (backing up existing
#      ones): node line from `slurmd -C` plus one GPU (gres with File=/dev/null),
#      partitions `cpu` (default) and `gpu` on that node, everything else (state,
#      spool, logs, PID files, job completion log) under STATE_DIR;
#   4. starts slurmctld and slurmd, waits until `sinfo` shows the node idle.
#
# Exit status: 0 cluster up; 77 SLURM cannot run here (not root, no apt-get,
# install failed, a SLURM daemon is already running): callers skip; anything else:
# it should have worked but did not (the log says why). On any failure the script
# rolls back what it did by running stop_cluster.sh.
# Prints KEY=VALUE lines (NODE, STATE_DIR, CPU_PARTITION, GPU_PARTITION, ...) to
# stdout and to STATE_DIR/cluster.env on success; progress goes to stderr.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE_DIR=${1:-${STYLEFLOW_SLURM_STATE:-/tmp/styleflow-slurm}}
CPU_PARTITION=${STYLEFLOW_SLURM_CPU_PARTITION:-cpu}
GPU_PARTITION=${STYLEFLOW_SLURM_GPU_PARTITION:-gpu}
PACKAGES=(slurmctld slurmd slurm-client munge)
CONF_DIR=/etc/slurm

log() { echo "start_cluster: $*" >&2; }
skip() { log "SKIP: $*"; exit 77; }

[ "$(uname -s)" = Linux ] || skip "SLURM test cluster needs Linux"
[ "$(id -u)" -eq 0 ] || skip "needs root (installs packages, starts slurmctld/slurmd/munged)"

# One start at a time (two test sessions at once): hold a lock on this script file
# while starting; the second then sees the first's daemons below and skips.
exec 9<"${BASH_SOURCE[0]}"
flock -w 300 9 || skip "another start_cluster.sh has held its lock for 5 minutes"

# Never touch a SLURM that is not ours (another test run, or a real installation).
POINTER=/run/styleflow-test-slurm.state  # names the state dir of a running test cluster
for d in slurmctld slurmd slurmstepd; do
    if pgrep -x "$d" >/dev/null 2>&1; then
        hint=""
        [ -f "$POINTER" ] && hint="; a styleflow test cluster seems to run from $(cat "$POINTER"): stop it with tests/slurm/stop_cluster.sh $(cat "$POINTER")"
        skip "a $d process is already running on this machine (pid $(pgrep -x "$d" | tr '\n' ' ')); not touching it$hint"
    fi
done

if [ -e "$STATE_DIR/manifest" ]; then
    skip "$STATE_DIR/manifest exists: a cluster started from there was not stopped (run tests/slurm/stop_cluster.sh $STATE_DIR)"
fi
mkdir -p "$STATE_DIR"
STATE_DIR=$(cd "$STATE_DIR" && pwd)
MANIFEST=$STATE_DIR/manifest
: >"$MANIFEST"
record() { echo "$*" >>"$MANIFEST"; }

rollback() {
    local rc=$?
    if [ "$rc" -ne 0 ]; then
        log "failed (exit $rc); rolling back"
        for f in "$STATE_DIR"/log/*.log; do
            [ -s "$f" ] && { log "--- tail of $f"; tail -n 20 "$f" >&2; }
        done
        "$HERE/stop_cluster.sh" "$STATE_DIR" --keep-logs >&2 || true
    fi
    exit "$rc"
}
trap rollback EXIT

echo "$STATE_DIR" >"$POINTER"
record "created-file $POINTER"

# ---------------------------------------------------------------- 1. packages
missing=()
for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    command -v apt-get >/dev/null || skip "packages ${missing[*]} missing and no apt-get"
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        # keep the packages' maintainer scripts from starting services we do not own
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        record "created-file /usr/sbin/policy-rc.d"
        remove_policy=1
    fi
    log "installing ${missing[*]} (apt-get update + install, ~10-20 s)"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get update -qq >"$STATE_DIR/apt.log" 2>&1 ||
        ! apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >>"$STATE_DIR/apt.log" 2>&1; then
        tail -n 20 "$STATE_DIR/apt.log" >&2
        skip "apt-get could not install ${missing[*]} (see $STATE_DIR/apt.log)"
    fi
    record "installed-packages ${missing[*]}"
    if [ "${remove_policy:-0}" = 1 ]; then
        rm -f /usr/sbin/policy-rc.d
        sed -i '\#^created-file /usr/sbin/policy-rc.d$#d' "$MANIFEST"
    fi
fi
for b in slurmctld slurmd sbatch sinfo scontrol munged munge; do
    command -v "$b" >/dev/null || skip "$b not found after installing ${PACKAGES[*]}"
done

# ---------------------------------------------------------------- 2. munge
if [ ! -e /etc/munge/munge.key ]; then
    log "creating /etc/munge/munge.key"
    install -d -o munge -g munge -m 700 /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    chown munge:munge /etc/munge/munge.key
    chmod 400 /etc/munge/munge.key
    record "created-file /etc/munge/munge.key"
fi
if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    log "reusing the munged that is already running (it will be left running)"
else
    for d in /run/munge /var/log/munge /var/lib/munge; do
        if [ ! -d "$d" ]; then
            install -d -o munge -g munge -m 755 "$d"
            record "created-dir $d"
        fi
    done
    log "starting munged"
    runuser -u munge -- munged
    for _ in $(seq 50); do
        [ -s /run/munge/munged.pid ] && munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
        sleep 0.1
    done
    [ -s /run/munge/munged.pid ] || { log "munged wrote no PID file"; exit 1; }
    record "pid munged $(cat /run/munge/munged.pid)"
    munge -n | unmunge >/dev/null || { log "munge round trip fails"; exit 1; }
fi

# ---------------------------------------------------------------- 3. config
install -d -m 755 "$STATE_DIR/ctld" "$STATE_DIR/d" "$STATE_DIR/log"
if [ ! -d "$CONF_DIR" ]; then
    install -d -m 755 "$CONF_DIR"
    record "created-dir $CONF_DIR"
fi
install -d -m 700 "$STATE_DIR/backup"
place_conf() {  # place_conf NAME  (content on stdin)
    local target=$CONF_DIR/$1
    if [ -e "$target" ] || [ -L "$target" ]; then
        mv "$target" "$STATE_DIR/backup/$1"
        record "replaced-file $target $STATE_DIR/backup/$1"
    else
        record "created-file $target"
    fi
    cat >"$target"
    chmod 644 "$target"
}

NODE_LINE=$(slurmd -C | head -n 1)
case $NODE_LINE in NodeName=*) ;; *) log "unexpected 'slurmd -C' output: $NODE_LINE"; exit 1 ;; esac
NODE=$(sed -n 's/^NodeName=\([^ ]*\).*/\1/p' <<<"$NODE_LINE")
CPUS=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$NODE_LINE")

place_conf slurm.conf <<CONF
# Written by styleflow tests/slurm/start_cluster.sh for a throw-away test cluster;
# the previous file (if any) is restored by tests/slurm/stop_cluster.sh.
ClusterName=styleflow-test
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$STATE_DIR/ctld
SlurmdSpoolDir=$STATE_DIR/d
SlurmctldPidFile=$STATE_DIR/slurmctld.pid
SlurmdPidFile=$STATE_DIR/slurmd.pid
SlurmctldLogFile=$STATE_DIR/log/slurmctld.log
SlurmdLogFile=$STATE_DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
MailProg=/bin/true
ReturnToService=2
# No slurmdbd: sacct does not work. Finished jobs stay visible to squeue/scontrol
# for MinJobAge seconds (the slurm executor plugin's squeue status mode needs this; an hour,
# so that the test can still `scontrol show` the first job of a 10-20 minute pipeline run),
# and every finished job is written to the job completion log.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MinJobAge=3600
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE_DIR/log/jobcomp.log
$NODE_LINE Gres=gpu:1 State=UNKNOWN
PartitionName=$CPU_PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
PartitionName=$GPU_PARTITION Nodes=$NODE Default=NO MaxTime=INFINITE State=UP
CONF

place_conf gres.conf <<CONF
# Written by styleflow tests/slurm/start_cluster.sh: a GPU that SLURM can schedule
# without hardware (no real device behind it).
NodeName=$NODE Name=gpu File=/dev/null Count=1
CONF

# ---------------------------------------------------------------- 4. daemons
log "starting slurmctld"
slurmctld
for _ in $(seq 100); do
    [ -s "$STATE_DIR/slurmctld.pid" ] && scontrol ping 2>/dev/null | grep -q UP && break
    sleep 0.2
done
[ -s "$STATE_DIR/slurmctld.pid" ] || { log "slurmctld wrote no PID file"; exit 1; }
record "pid slurmctld $(cat "$STATE_DIR/slurmctld.pid")"
scontrol ping | grep -q UP || { log "slurmctld does not answer 'scontrol ping'"; exit 1; }

log "starting slurmd"
slurmd
for _ in $(seq 50); do [ -s "$STATE_DIR/slurmd.pid" ] && break; sleep 0.2; done
[ -s "$STATE_DIR/slurmd.pid" ] || { log "slurmd wrote no PID file"; exit 1; }
record "pid slurmd $(cat "$STATE_DIR/slurmd.pid")"

state=""
for _ in $(seq 150); do
    state=$(sinfo -h -N -n "$NODE" -p "$CPU_PARTITION" -o %t 2>/dev/null | head -n 1)
    [ "$state" = idle ] && break
    sleep 0.2
done
if [ "$state" != idle ]; then
    log "node $NODE is '$state', not idle, after 30 s:"
    scontrol show node "$NODE" >&2 || true
    exit 1
fi

{
    echo "STATE_DIR=$STATE_DIR"
    echo "NODE=$NODE"
    echo "CPUS=$CPUS"
    echo "CPU_PARTITION=$CPU_PARTITION"
    echo "GPU_PARTITION=$GPU_PARTITION"
    echo "SLURMCTLD_LOG=$STATE_DIR/log/slurmctld.log"
    echo "SLURMD_LOG=$STATE_DIR/log/slurmd.log"
    echo "JOBCOMP_LOG=$STATE_DIR/log/jobcomp.log"
} | tee "$STATE_DIR/cluster.env"
log "node $NODE idle; partitions $CPU_PARTITION (default) and $GPU_PARTITION (1 GPU)"
