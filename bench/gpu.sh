#!/usr/bin/env bash
# The accelerator benchmark, prepared to run unattended in under 8 minutes on a CUDA machine:
#
#   bash bench/gpu.sh                      # on the GPU machine, from the repository root
#   bash bench/gpu.sh --dry-run            # the same steps on this CPU, with the tiny model (about a minute)
#   bash bench/gpu.sh --out DIR --peak-tflops 989
#
# 1. Training throughput of our Transformer against nn.Transformer with configs/gpu.toml's model and
#    batches, in bf16 and fp16 autocast: target tokens/s, ours / reference, and model FLOPs utilisation
#    (bench/train_speed.py; the peak comes from --peak-tflops, or from the GPU's name where it is known).
# 2. A 2-process DistributedDataParallel smoke test (torchrun), when two GPUs are there.
# 3. One short epoch of configs/gpu.toml through train.py, as a user would run it.
#
# Each step has its own time limit, so the whole stays within 8 minutes; everything it prints also goes
# to DIR/gpu.log (default bench-gpu), with the throughput in DIR/throughput.json.
set -uo pipefail

cd "$(dirname "$0")/.."
DRY_RUN=0
OUT=bench-gpu
PEAK=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY_RUN=1 ;;
    --out) OUT="$2"; shift ;;
    --peak-tflops) PEAK="$2"; shift ;;
    -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/gpu.sh: unknown option '$1'; use --dry-run, --out DIR or --peak-tflops N" >&2; exit 2 ;;
  esac
  shift
done
PYTHON=${PYTHON:-python}
mkdir -p "$OUT" || { echo "bench/gpu.sh: cannot create --out $OUT" >&2; exit 2; }
LOG="$OUT/gpu.log"
: > "$LOG"
FAILED=0

say() { echo "$*" | tee -a "$LOG"; }

# run NAME SECONDS COMMAND...: one step under its own time limit; a failure is reported and the rest go on.
run() {
  local name=$1 seconds=$2
  shift 2
  say ""
  say "== $name (limit ${seconds} s): $*"
  timeout --kill-after=10 "$seconds" "$@" 2>&1 | tee -a "$LOG"
  local status=${PIPESTATUS[0]}
  if [ "$status" -ne 0 ]; then
    say "!! $name failed (exit $status$([ "$status" -eq 124 ] && echo ': out of time'))"
    FAILED=1
  fi
}

if [ "$DRY_RUN" -eq 1 ]; then
  DEVICE=cpu; GPUS=2; PRECISIONS=fp32,bf16; CONFIG=configs/tiny.toml
  DATA=(--data data/class_verbs.csv.gz --vocab-size 1500)  # the tiny config's 400 pieces cannot spell it
  SPEED=(--vocab-size 1500 --pairs 400 --rounds 2 --steps 1)
  PEAK=${PEAK:-1}  # a nominal peak, so the MFU column is exercised too
  say "dry run on the CPU: tiny model, the class slice, 2 gloo processes standing in for 2 GPUs"
else
  DEVICE=cuda; PRECISIONS=bf16,fp16; CONFIG=configs/gpu.toml
  DATA=()
  SPEED=(--rounds 5 --steps 5)
  GPUS=$("$PYTHON" -c "import torch; print(torch.cuda.device_count())") || GPUS=0
  if [ "$GPUS" -lt 1 ]; then
    echo "bench/gpu.sh: no CUDA GPU is visible to torch; run it on a GPU machine, or pass --dry-run" >&2
    exit 2
  fi
  if [ -z "$PEAK" ]; then
    PEAK=$("$PYTHON" - <<'EOF'
import torch
name = torch.cuda.get_device_name(0)
# Dense bf16/fp16 tensor-core peaks in TFLOPS, as the vendor states them (no sparsity).
peaks = {"H200": 989, "H100 SXM": 989, "H100 80GB HBM3": 989, "H100 PCIe": 756, "H100": 756, "A100": 312,
         "L40S": 362, "L4": 121, "A10G": 70, "RTX 4090": 165}
print(next((str(peak) for key, peak in peaks.items() if key in name), ""))
EOF
)
  fi
  "$PYTHON" -c "import torch; print('GPU:', torch.cuda.get_device_name(0), '×', torch.cuda.device_count())" | tee -a "$LOG"
fi
say "torch $("$PYTHON" -c 'import torch; print(torch.__version__)'), config $CONFIG, peak ${PEAK:-unknown} TFLOPS"

run "training throughput" 180 "$PYTHON" bench/train_speed.py --arch transformer --config "$CONFIG" \
  --device "$DEVICE" --precisions "$PRECISIONS" ${PEAK:+--peak-tflops "$PEAK"} "${SPEED[@]}" \
  --json "$OUT/throughput.json"

if [ "$GPUS" -ge 2 ]; then
  run "DDP smoke test, 2 processes" 110 "$PYTHON" -m torch.distributed.run --nproc_per_node=2 train.py \
    --config "$CONFIG" "${DATA[@]}" --device "$DEVICE" --epochs 1 --time-budget-minutes 1 --no-progress \
    --out "$OUT/ddp" --overwrite
else
  say ""
  say "== DDP smoke test: skipped, one GPU"
fi

run "one short epoch" 150 "$PYTHON" train.py --config "$CONFIG" "${DATA[@]}" --device "$DEVICE" --epochs 1 \
  --time-budget-minutes 2 --no-progress --out "$OUT/epoch" --overwrite

say ""
if [ "$FAILED" -ne 0 ]; then
  say "bench/gpu.sh: a step failed; see $LOG"
  exit 1
fi
say "bench/gpu.sh: all steps done; $LOG holds the output"
