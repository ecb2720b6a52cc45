#!/usr/bin/env bash
# The GPU figures in one prepared call: at most ~9 minutes on one H100/H200.
#
#   bash benchmarks/gpu_check.sh --install .whl --out gpu_check.md     # on a GPU machine
#   bash benchmarks/gpu_check.sh --device cpu --out /tmp/cpu_check.md  # the same path, tiny sizes
#
# 1. the CUDA-only tests (pytest -m cuda: packed seeds, CUDA graphs, no host syncs, CUDA-event timing);
# 2. benchmarks/train_vs_plain.py, fp32 and bf16 at batch 64 and 512, eager and with cuda_graphs;
# 3. benchmarks/suite_throughput.py, one cell of 16 seeds: one seed alone, --jobs 16,
#    packed 16 and packed x jobs (2,000 steps), and one after another (measured on 4 seeds:
#    that mode's wall is the sum of its runs');
# 4. benchmarks/program_estimate.py: the article-scale program's GPU minutes, from probes.
# Each step appends its Markdown table to --out as it finishes (a step that fails or runs
# out of time says so in the file, and the next one still runs).
#
# --install DIR: first install ganbench (and the wheels in DIR: torch-fidelity, mlxtend)
# into a --target folder without touching this machine's torch (../shared/notes/environment.md).
set -uo pipefail
cd "$(dirname "$0")/.."

device=cuda out=gpu_check.md wheels=""
while [ $# -gt 0 ]; do
  case "$1" in
    --device) device=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --install) wheels=$2; shift 2 ;;
    *) echo "gpu_check.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
PY=${PYTHON:-python3}

if [ -n "$wheels" ]; then
  site=${GANBENCH_SITE:-/tmp/ganbench-site}
  $PY -m pip install -q --no-index --no-deps --no-build-isolation --target "$site" "$wheels"/*.whl . || exit 1
  export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
export GANBENCH_PLUGINS="" OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}

if [ "$device" = cpu ]; then  # tiny sizes: the code path, not figures
  tvp=(--device cpu --batch-size 16 32 --precision fp32 bf16 --steps 30 --warmup 10 --repeat 1 --width 8)
  graphs=(--device cpu --batch-size 16 --precision fp32 --steps 30 --warmup 10 --repeat 1 --width 8 --cuda-graphs true)
  cell=(--device cpu --seeds 2 --steps 20 --samples 100 --pack-jobs 2 --single --modes jobs,packed,packed-jobs)
  sequential=(--device cpu --seeds 2 --steps 20 --samples 100 --modes sequential --extrapolate 4)
  estimate=(--device cpu --tiny --suites losses,tabular)
  limit=600
else
  tvp=(--device "$device" --batch-size 64 512 --precision fp32 bf16 --steps 200 --warmup 50 --repeat 2)
  graphs=(--device "$device" --batch-size 64 512 --precision fp32 --steps 200 --warmup 50 --repeat 2 --cuda-graphs true)
  cell=(--device "$device" --seeds 16 --steps 2000 --pack-jobs 4 --single --modes jobs,packed,packed-jobs)
  sequential=(--device "$device" --seeds 4 --steps 2000 --modes sequential --extrapolate 16)
  estimate=(--device "$device")
  limit=240
fi

{
  echo "# gpu_check: $(date -u +%Y-%m-%dT%H:%MZ)"
  $PY -c "import torch; d = torch.cuda.get_device_name() if torch.cuda.is_available() else 'no CUDA'; print(f'device: {d}; torch {torch.__version__}')"
} >> "$out"

log="$out.log"
step() {  # step NAME SECONDS COMMAND...: run it under a time limit, its output in $log, note how it ended
  local name=$1 seconds=$2; shift 2
  local t0=$SECONDS
  echo "== $name" | tee -a "$log" >&2
  timeout "$seconds" "$@" 2>&1 | tee -a "$log" >&2
  local rc=${PIPESTATUS[0]}
  echo "" >> "$out"
  echo "_${name}: exit ${rc} in $((SECONDS - t0)) s$([ "$rc" = 124 ] && echo ' (out of time)')_" >> "$out"
}

step "CUDA-only tests" 150 $PY -m pytest -q -m cuda -p no:cacheprovider tests/
{ echo; echo '```'; grep -E "passed|failed|skipped|error" "$log" | tail -6; echo '```'; } >> "$out"
step "train_vs_plain" 120 $PY benchmarks/train_vs_plain.py "${tvp[@]}" --markdown "$out"
step "train_vs_plain cuda_graphs" 60 $PY benchmarks/train_vs_plain.py "${graphs[@]}" --markdown "$out"
step "suite_throughput 16 seeds" "$limit" $PY benchmarks/suite_throughput.py "${cell[@]}" --markdown "$out"
step "suite_throughput one after another" 90 $PY benchmarks/suite_throughput.py "${sequential[@]}" --markdown "$out"
step "program_estimate" "$limit" $PY benchmarks/program_estimate.py "${estimate[@]}" --markdown "$out"
echo "figures in $out" >&2
