#!/usr/bin/env bash
# Stop the test cluster started by tests/slurm/start_cluster.sh and undo its changes.
#
#   tests/slurm/stop_cluster.sh [STATE_DIR] [--keep-logs]   (default: /tmp/styleflow-slurm)
#
# Reads STATE_DIR/manifest and undoes exactly what is recorded there, newest first:
# cancels the cluster's jobs, stops the daemons it started (by PID, after checking
# the PID still belongs to that daemon), restores replaced config files, removes
# created files and (empty) directories. Packages it installed stay installed.
# Without --keep-logs the state directory is removed as well. Safe to run twice.
set -uo pipefail

STATE_DIR=${STYLEFLOW_SLURM_STATE:-/tmp/styleflow-slurm}
KEEP_LOGS=0
for a in "$@"; do
    case $a in
        --keep-logs) KEEP_LOGS=1 ;;
        *) STATE_DIR=$a ;;
    esac
done
MANIFEST=$STATE_DIR/manifest
log() { echo "stop_cluster: $*" >&2; }

if [ ! -f "$MANIFEST" ]; then
    log "no $MANIFEST: nothing to stop"
    exit 0
fi

pid_is() {  # pid_is PID NAME: is PID alive and running program NAME?
    [ -n "$1" ] && [ -r "/proc/$1/comm" ] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ]
}
stop_pid() {  # stop_pid NAME PID
    local name=$1 pid=$2
    if ! pid_is "$pid" "$name"; then
        log "$name (pid $pid) is not running"
        return 0
    fi
    log "stopping $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 100); do pid_is "$pid" "$name" || return 0; sleep 0.1; done
    log "$name (pid $pid) ignored SIGTERM for 10 s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null
    for _ in $(seq 20); do pid_is "$pid" "$name" || return 0; sleep 0.1; done
    log "could not stop $name (pid $pid)"
    return 1
}

rc=0
# Jobs first, while slurmctld still runs: job steps (slurmstepd) outlive slurmd.
if grep -q "^pid slurmctld " "$MANIFEST" && scontrol ping 2>/dev/null | grep -q UP; then
    if [ -n "$(squeue -h -o %i 2>/dev/null)" ]; then
        log "cancelling the test cluster's jobs: $(squeue -h -o %i | tr '\n' ' ')"
        scancel --full $(squeue -h -o %i) 2>/dev/null
        for _ in $(seq 100); do
            [ -z "$(squeue -h -t PD,R,CG,S -o %i 2>/dev/null)" ] && break
            sleep 0.1
        done
    fi
fi

# Undo the manifest, newest entry first.
while read -r kind a b; do
    case $kind in
        pid)
            if [ "$a" = slurmd ]; then
                # start_cluster.sh refused to start when any slurmstepd ran, so any
                # left now was spawned by our slurmd for a (cancelled) job.
                for s in $(pgrep -x slurmstepd); do
                    pid_is "$s" slurmstepd && stop_pid slurmstepd "$s"
                done
            fi
            stop_pid "$a" "$b" || rc=1
            ;;
        replaced-file)
            log "restoring $a"
            mv -f "$b" "$a" || rc=1
            ;;
        created-file)
            log "removing $a"
            rm -f "$a" || rc=1
            ;;
        created-dir)
            rmdir "$a" 2>/dev/null && log "removed $a" || log "left $a (not empty)"
            ;;
        installed-packages)
            log "left installed (apt-get purge to remove): $a $b"
            ;;
    esac
done < <(tac "$MANIFEST")

if [ "$KEEP_LOGS" = 1 ]; then
    mv "$MANIFEST" "$STATE_DIR/manifest.done"
    rm -rf "$STATE_DIR/ctld" "$STATE_DIR/d"
    log "logs kept in $STATE_DIR/log"
else
    rm -rf "$STATE_DIR"
fi
exit $rc
