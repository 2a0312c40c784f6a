# Sourced by guest/run-demo.sh and guest/linux/run-linux-iommu.sh: the
# part of a guest test run that does not depend on the guest.
#
# run_until_verdict LOG MARKER runs "$QEMU" "${args[@]}" with the serial
# console on stdout and in $OUTDIR/LOG, for at most $TIMEOUT seconds.  The
# check never reads the terminal: stdin from /dev/null keeps QEMU from
# switching it to raw mode and leaving it so if it gets killed; ^C reaches
# QEMU (timeout --foreground keeps it in our process group) and tee keeps
# copying until QEMU is gone.  When the console shows MARKER followed by
# PASS or FAIL (the guest then holds), a watcher takes the device's view
# over QMP (a unix socket; guest/qmp-view.py, QEMU's Python QMP library):
# query-virt-iommu into $OUTDIR/virt-iommu.json and the 'info virt-iommu'
# text into $OUTDIR/virt-iommu.txt, and quits QEMU.
#
# If the caller set the array sidecar, that command runs beside QEMU from
# the moment the log exists (it may use the QMP socket $OUTDIR/qmp.sock
# before the verdict, one connection at a time, as guest/qmp-inject.py
# does); it is stopped when QEMU is gone if it has not ended by itself.
#
# Sets: log, view_json, view_text (paths), status (QEMU's exit status; 124
# or 137 when the timeout hit), elapsed_ms, interrupted (non-empty after
# ^C), sidecar_status (the sidecar's exit status; 143 if it was stopped).

watch_verdict() {
    local marker=$1 qmp=$2 deadline=$((SECONDS + TIMEOUT))

    while [ $SECONDS -lt $deadline ]; do
        if grep -a -q "$marker \\(PASS\\|FAIL\\)" "$log"; then
            python3 "$ROOT/guest/qmp-view.py" "$qmp" "$view_json" \
                "$view_text" >"$OUTDIR/qmp-view.log" 2>&1
            return
        fi
        sleep 0.2
    done
}

run_until_verdict() {
    local qmp=$OUTDIR/qmp.sock start watcher side=

    log=$OUTDIR/$1
    view_json=$OUTDIR/virt-iommu.json
    view_text=$OUTDIR/virt-iommu.txt
    rm -f "$log" "$view_json" "$view_text" "$OUTDIR/qmp-view.log" "$qmp"
    : >"$log"
    interrupted=
    trap 'interrupted=1' INT
    start=$(date +%s%N)
    watch_verdict "$2" "$qmp" &
    watcher=$!
    sidecar_status=0
    if [ -n "${sidecar+set}" ]; then
        "${sidecar[@]}" &
        side=$!
    fi
    timeout --foreground -k 5 "$TIMEOUT" "$QEMU" -serial stdio "${args[@]}" \
        -qmp "unix:$qmp,server=on,wait=off" </dev/null 2>&1 |
        tee -i -a "$log"
    status=${PIPESTATUS[0]}
    kill "$watcher" 2>/dev/null
    wait "$watcher" 2>/dev/null
    if [ -n "$side" ]; then
        kill "$side" 2>/dev/null
        wait "$side"
        sidecar_status=$?
    fi
    trap - INT
    rm -f "$qmp"
    elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
}
