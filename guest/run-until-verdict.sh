# Sourced by guest/run-demo.sh and guest/linux/run-linux-iommu.sh: the
# part of a guest test run that does not depend on the guest.
#
# run_until_verdict LOG MARKER runs "$QEMU" "${args[@]}" with the serial
# console on stdout and in $OUTDIR/LOG, for at most $TIMEOUT seconds.  The
# check never reads the terminal: stdin from /dev/null keeps QEMU from
# switching it to raw mode and leaving it so if it gets killed; ^C reaches
# QEMU (timeout --foreground keeps it in our process group) and tee keeps
# copying until QEMU is gone.  When the console shows MARKER followed by
# PASS or FAIL (the guest then holds), a watcher asks the HMP monitor (a
# unix socket) for 'info virt-iommu', into $OUTDIR/hmp.log, and quits QEMU.
#
# Sets: log, hmp_log (paths), status (QEMU's exit status; 124 or 137 when
# the timeout hit), elapsed_ms, interrupted (non-empty after ^C).

watch_verdict() {
    local marker=$1 mon=$2 deadline=$((SECONDS + TIMEOUT))
    local hmp=$ROOT/guest/hmp.py

    while [ $SECONDS -lt $deadline ]; do
        if grep -a -q "$marker \\(PASS\\|FAIL\\)" "$log"; then
            python3 "$hmp" "$mon" "info virt-iommu" \
                >"$hmp_log.tmp" 2>&1 && mv "$hmp_log.tmp" "$hmp_log"
            python3 "$hmp" "$mon" quit >/dev/null 2>&1
            return
        fi
        sleep 0.2
    done
}

run_until_verdict() {
    local mon=$OUTDIR/monitor.sock start watcher

    log=$OUTDIR/$1
    hmp_log=$OUTDIR/hmp.log
    rm -f "$log" "$hmp_log" "$mon"
    : >"$log"
    interrupted=
    trap 'interrupted=1' INT
    start=$(date +%s%N)
    watch_verdict "$2" "$mon" &
    watcher=$!
    timeout --foreground -k 5 "$TIMEOUT" "$QEMU" -serial stdio "${args[@]}" \
        -monitor "unix:$mon,server=on,wait=off" </dev/null 2>&1 |
        tee -i -a "$log"
    status=${PIPESTATUS[0]}
    kill "$watcher" 2>/dev/null
    wait "$watcher" 2>/dev/null
    trap - INT
    rm -f "$mon" "$hmp_log.tmp"
    elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
}
