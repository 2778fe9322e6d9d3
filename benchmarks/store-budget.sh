#!/usr/bin/env bash
# The store's size against the token budgets (issue: the store stays the same size at 4x the budgets): runs one
# pipeline from a new store to its last stage twice, the second time with every `tokens:` budget in its spec (BLD,
# scoring, GKD, evaluation) multiplied by FACTOR, and writes both stores' bytes per stage, as `puzzle store du --bytes`
# counts them, and their ratio to benchmarks/results/store-budget.json.
#
#   benchmarks/store-budget.sh RUN SPEC [FACTOR]
#
# RUN: a folder holding what SPEC's paths name (its parent folder and text); SPEC: relative to RUN; FACTOR: 4.
# PUZZLE: the command that runs the CLI (default: dotnet src/Puzzle.Cli/bin/Release/net10.0/puzzle.dll, built with
# `dotnet build -c Release src/Puzzle.Cli`). DEVICE: cpu (default) or cuda.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
run=${1:?usage: store-budget.sh RUN SPEC [FACTOR]} spec=${2:?usage: store-budget.sh RUN SPEC [FACTOR]} factor=${3:-4}
[ -f "$run/$spec" ] || { echo "store-budget.sh: no spec $run/$spec" >&2; exit 2; }
[[ $factor =~ ^[1-9][0-9]*$ ]] || { echo "store-budget.sh: FACTOR must be a whole number above 0, not '$factor'" >&2; exit 2; }
puzzle=${PUZZLE:-dotnet $root/src/Puzzle.Cli/bin/Release/net10.0/puzzle.dll}
work=$(mktemp -d "${TMPDIR:-/tmp}/store-budget.XXXXXX")
trap 'rm -rf "$work"' EXIT
out=$root/benchmarks/results/store-budget.json
for f in 1 "$factor"; do
  mkdir -p "$work/x$f"
  # the run folder's files, linked, not copied (a parent can be gigabytes); no store of its own
  for e in "$run"/*; do [ "$(basename "$e")" = .puzzle ] || ln -s "$(cd "$(dirname "$e")" && pwd)/$(basename "$e")" "$work/x$f/"; done
  # the spec is written anew: never through a link to the original (its folder's link, or its own, goes first)
  [ "$(dirname "$spec")" = . ] || rm -f "$work/x$f/$(dirname "$spec")"
  mkdir -p "$work/x$f/$(dirname "$spec")"
  rm -f "$work/x$f/$spec"
  perl -pe "s/\\btokens: (\\d+)/'tokens: '.(\$1*$f)/ge" "$run/$spec" > "$work/x$f/$spec"
  echo "== budgets x$f: $(grep -o 'tokens: [0-9]*' "$work/x$f/$spec" | tr '\n' ' ')"
  start=$(date +%s.%N)
  (cd "$work/x$f" && $puzzle run "$spec" --device "${DEVICE:-cpu}" >"$work/x$f.log" 2>&1) \
    || { tail -20 "$work/x$f.log" >&2; echo "store-budget.sh: the x$f run failed" >&2; exit 1; }
  echo "$(date +%s.%N) - $start" | bc > "$work/x$f.seconds"
  (cd "$work/x$f" && $puzzle store du --bytes) > "$work/x$f.du"
  cat "$work/x$f.du"
done
python3 - "$work" "$factor" "$spec" "$out" <<'PY'
import json, os, sys, tempfile
work, factor, spec, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def read(f):
    stages, total = {}, None
    for line in open(os.path.join(work, f"x{f}.du")):
        parts = line.split()
        if len(parts) == 4 and parts[2].isdigit() and parts[1] != "total" and parts[0] != "cache/":
            stages[parts[1]] = int(parts[3])
        elif len(parts) == 2 and parts[0] == "total":
            total = int(parts[1])
    seconds = float(open(os.path.join(work, f"x{f}.seconds")).read())
    return {"stages": stages, "store_bytes": total, "run_seconds": round(seconds, 1)}
small, large = read(1), read(factor)
result = {"spec": spec, "factor": factor, "x1": small, f"x{factor}": large,
          "ratio": large["store_bytes"] / small["store_bytes"],
          "command": f"benchmarks/store-budget.sh RUN {spec} {factor}"}
os.makedirs(os.path.dirname(out), exist_ok=True)
fd, tmp = tempfile.mkstemp(dir=os.path.dirname(out), prefix=".store-budget.")
with os.fdopen(fd, "w") as f: json.dump(result, f, indent=2); f.write("\n")
os.replace(tmp, out)
print(f"store x1 {small['store_bytes']:,} bytes, x{factor} {large['store_bytes']:,} bytes: ratio {result['ratio']:.4f} -> {out}")
PY
