#!/usr/bin/env bash
# The GPU check: runs pipelines/ci.yaml end to end on CUDA and compares our logits with Hugging Face transformers'.
# Prepared on a machine with .NET, run on a GPU machine that has PyTorch (+ transformers) but no .NET.
#
#   examples/gpu/device-check.sh prepare      here: a trimmed self-contained publish of the CLI without libtorch
#                                             (-p:PuzzleTorch=external), the ci spec, and a store that already holds
#                                             its device-independent jobs (Fetch needs npm and the network), all in
#                                             .device/ (git-ignored, ~35 MB)
#   bash .device/device-check.sh run cuda     there: LD_LIBRARY_PATH from python3's torch; ci.yaml with --device cuda;
#                                             the exported parent's logits against transformers in bfloat16 and
#                                             float32; results.json and logs under $OUT
#   bash .device/device-check.sh run cpu      the same on the CPU (here: libtorch from the NuGet package folder when
#                                             python3's torch is too old for TorchSharp; an independent PyTorch Llama
#                                             as the reference when transformers is not installed)
#
# Environment: OUT (results; default .device/out-MODE), PYTHON (default python3), PUZZLE_LIBTORCH (a libtorch lib
# folder to use instead of python3's torch), PUZZLE_FIXTURE (a Hugging Face Llama folder to compare as well).
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mode=${1:-}
PYTHON=${PYTHON:-python3}

# The CLI as a trimmed, self-contained linux-x64 app without libtorch, packed into $1/puzzle-linux-x64.tar.xz (~30 MB):
# the GPU machine has no .NET, and brings libtorch with its PyTorch. scale-check.sh uses it too.
publish_cli() {
  local root; root=$(cd "$here/../.." && pwd)
  local dev=$1 build=${TMPDIR:-/tmp}/puzzle-device-build
  rm -rf "$build/app"
  mkdir -p "$dev"
  echo "publishing the CLI (PuzzleTorch=external, trimmed, self-contained) ..."
  dotnet publish "$root/src/Puzzle.Cli" -c Release -r linux-x64 --self-contained -p:PublishTrimmed=true \
    -p:PuzzleTorch=external --artifacts-path "$build/artifacts" -o "$build/app" -nologo -v quiet || return 1
  # debugger support is not needed there, and the carry limit is 64 MiB
  rm -f "$build/app"/*.pdb "$build/app"/libmscordaccore.so "$build/app"/libmscordbi.so "$build/app"/createdump
  tar -C "$build/app" -cJf "$dev/puzzle-linux-x64.tar.xz" .
}

prepare() {
  local root; root=$(cd "$here/../.." && pwd)
  local dev=$root/.device
  set -e
  rm -rf "$dev"
  mkdir -p "$dev/pipelines"
  publish_cli "$dev"
  cp "$here/device-check.sh" "$here/device_check.py" "$dev/"
  cp "$root/pipelines/ci.yaml" "$dev/pipelines/ci.yaml"
  echo "running ci.yaml's device-independent stages here (Fetch needs npm) ..."
  dotnet build "$root/src/Puzzle.Cli" -c Release -nologo -v quiet
  dotnet "$root/src/Puzzle.Cli/bin/Release/net10.0/puzzle.dll" run "$dev/pipelines/ci.yaml" --target Data --store "$dev/store"
  rm -rf "$dev/store/logs" "$dev/store/tmp" "$dev/store/locks"
  du -sh "$dev"
  echo "ready: carry .device and run: bash .device/device-check.sh run cuda"
}

# Puts a libtorch that TorchSharp 0.107 can use on LD_LIBRARY_PATH (PUZZLE_LIBTORCH_DIR tells which): the PyTorch
# install's, unless it is older than the libtorch TorchSharp 0.107 was built for (2.10); on the CPU, the NuGet one.
use_libtorch() {
  local device=$1 tl="" nv=""
  if [ -n "${PUZZLE_LIBTORCH:-}" ]; then tl=$PUZZLE_LIBTORCH
  elif "$PYTHON" -c 'import torch, sys; v = tuple(int(x) for x in torch.__version__.split("+")[0].split(".")[:2]); sys.exit(v < (2, 10))' 2>/dev/null; then
    tl=$("$PYTHON" -c 'import torch, os; print(os.path.dirname(torch.__file__) + "/lib")')
    nv=$("$PYTHON" -c 'import glob, site; print(":".join(sorted(glob.glob(site.getsitepackages()[0] + "/nvidia/*/lib"))))')
  elif [ "$device" = cpu ]; then
    tl=$(ls -d "${NUGET_PACKAGES:-$HOME/.nuget/packages}"/libtorch-cpu-linux-x64/2.10.0/runtimes/linux-x64/native 2>/dev/null | head -1)
  fi
  [ -n "$tl" ] && [ -d "$tl" ] || return 1
  export PUZZLE_LIBTORCH_DIR=$tl
  export LD_LIBRARY_PATH=$tl${nv:+:$nv}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  # a bare GPU image may lack libicu, which .NET needs for cultures; Puzzle formats invariantly anyway
  export DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=${DOTNET_SYSTEM_GLOBALIZATION_INVARIANT:-1}
}

run() {
  local device=${1:-cuda}
  [ "$device" = cuda ] || [ "$device" = cpu ] || { echo "run: device must be cuda or cpu" >&2; exit 2; }
  OUT=${OUT:-$here/out-$device}
  local work=${TMPDIR:-/tmp}/puzzle-device-$device
  local logf=$OUT/device-check.log
  mkdir -p "$OUT"
  : > "$logf"
  say() { echo "[$(date +%T)] $*" | tee -a "$logf"; }
  rm -rf "$work"; mkdir -p "$work/app" "$work/run/pipelines"
  tar -C "$work/app" -xJf "$here/puzzle-linux-x64.tar.xz" 2>>"$logf" \
    || "$PYTHON" -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$here/puzzle-linux-x64.tar.xz" "$work/app" \
    || { say "cannot unpack the CLI"; exit 1; }
  cp "$here/pipelines/ci.yaml" "$work/run/pipelines/"
  cp -r "$here/store" "$work/run/.puzzle"

  use_libtorch "$device" || { say "no libtorch found: install PyTorch >= 2.10 for $PYTHON or set PUZZLE_LIBTORCH"; exit 1; }
  say "libtorch: $PUZZLE_LIBTORCH_DIR"
  say "python: $("$PYTHON" -c 'import sys, torch; print(sys.version.split()[0], "torch", torch.__version__, "cuda", torch.cuda.is_available())' 2>&1)"
  command -v nvidia-smi >/dev/null && say "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1)"
  local puzzle=$work/app/puzzle

  say "pipeline: puzzle run pipelines/ci.yaml --device $device"
  local start=$SECONDS
  (cd "$work/run" && "$puzzle" run pipelines/ci.yaml --device "$device") > "$OUT/pipeline.log" 2>&1
  local rc=$? seconds=$((SECONDS - start))
  tail -5 "$OUT/pipeline.log" | tee -a "$logf"
  say "pipeline: exit $rc in $seconds s"
  if [ $rc -ne 0 ]; then  # the failed jobs' logs come back too (at most 8 files in all)
    local n=0
    for f in $(grep -h '^FAILED' "$OUT/pipeline.log" | sed -n 's/.*log: \(.*\)$/\1/p'); do
      [ $n -lt 3 ] && [ -f "$f" ] && cp "$f" "$OUT/failed-$n-$(basename "$f")" && n=$((n + 1))
    done
  fi

  local extra=()
  [ -n "${PUZZLE_FIXTURE:-}" ] && extra+=(--extra-model "fixture=$PUZZLE_FIXTURE")
  PYTHONUNBUFFERED=1 "$PYTHON" "$here/device_check.py" --puzzle "$puzzle" --device "$device" --store "$work/run/.puzzle" \
    --pipeline ci --pipeline-exit $rc --pipeline-seconds $seconds --scratch "$work/scratch" --out "$OUT/results.json" \
    --log "$logf" "${extra[@]}" >> "$OUT/compare.log" 2>&1
  local ok=$?
  say "done: results in $OUT/results.json (exit $ok)"
  exit $ok
}

[ "${BASH_SOURCE[0]}" = "$0" ] || return 0  # sourced by scale-check.sh for its functions
case "$mode" in
  prepare) prepare ;;
  publish) publish_cli "${2:?publish DIR}" ;;
  run) run "${2:-cuda}" ;;
  *) echo "usage: $0 prepare | run [cuda|cpu]" >&2; exit 2 ;;
esac
