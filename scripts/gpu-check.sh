#!/usr/bin/env bash
# The GPU check as the whole command of one call on the lent GPU machine (README "The GPU
# check"). That machine has python3 with its own CUDA torch but not all of loosen's
# packages, no network, and no loosen install. Run from the repository root, with the
# wheels of `make gpu-wheels` in .whl/ (carried with the call): installs them, checks
# them, runs `loosen bench gpu` from this checkout under a time limit, and leaves in $OUT
# what the device tool brings back (8 files at most, two folders down): log.txt,
# report.md, results.json and parts/NAME.txt (a part's result.json, then its log's end).
set -uo pipefail
OUT=${OUT:-runs/gpu-device}         # set by the device tool there
PYTHON=${PYTHON:-python3}
WHEELS=${WHEELS:-.whl}
SITE=${SITE:-/tmp/site}
RUN=${RUN:-runs/gpu-check}          # loosen bench gpu --out
BENCH_TIMEOUT=${BENCH_TIMEOUT:-500}  # seconds; the parts' caps add up to 470
GPU_FLAGS=${GPU_FLAGS:-}            # more flags for loosen bench gpu (--parts la archs)

check() {
    local wheels=("$WHEELS"/*.whl)
    if [ ${#wheels[@]} -eq 0 ]; then
        echo "gpu-check: no wheels in $WHEELS/: run make gpu-wheels and carry $WHEELS"
        return 2
    fi
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$SITE" "${wheels[@]}" || { echo "gpu-check: pip refused $WHEELS/"; return 3; }
    # loosen from this checkout (import loosen registers its models: no start-up hook),
    # the carried packages before the machine's own, upstream kept offline
    export PYTHONPATH="$PWD/src:$SITE${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 \
        LOOSEN_HOOK=0 YOLO_OFFLINE=1 YOLO_AUTOINSTALL=false HF_HUB_OFFLINE=1
    "$PYTHON" -m loosen.bench.gpu_wheels check "$SITE"  # names what is unmet; runs on anyway
    # shellcheck disable=SC2086  # GPU_FLAGS: words
    timeout -s INT -k 20 "$BENCH_TIMEOUT" "$PYTHON" -m loosen bench gpu --out "$RUN" $GPU_FLAGS
}

shopt -s nullglob
rm -rf "$RUN" && mkdir -p "$OUT/parts"
check 2>&1 | tee "$OUT/log.txt"
code=${PIPESTATUS[0]}
cp "$RUN/report.md" "$RUN/results.json" "$OUT/" 2>/dev/null
for part in "$RUN"/parts/*/; do
    { cat "$part/result.json"; printf '\n--- the end of its log\n'; tail -n 200 "$part/log.txt"
    } > "$OUT/parts/$(basename "$part").txt" 2>/dev/null
done
echo "gpu-check: exit $code; in $OUT: $(cd "$OUT" && find . -type f | sort | tr '\n' ' ')" |
    tee -a "$OUT/log.txt"
exit "$code"
