#!/usr/bin/env bash
# Runs a Puzzle pipeline spec in CI and publishes the child it makes as a NuGet package.
#
#   examples/ci/publish.sh PIPELINE.yaml
#
# 1. checks the spec (every mistake at once, as FILE:LINE:COLUMN, nothing run);
# 2. runs the pipeline up to Publish: jobs whose key is in the store are reused, the rest run; Pack puts the exported
#    model, the spec and a provenance manifest (every job key, file SHA-256s, metrics, tool and library versions) in
#    one package, and Publish pushes it to pack.feed (a folder) or pack.source (a NuGet v3 server);
# 3. checks the package it published against its own manifest (`puzzle verify`);
# 4. prints `published ID VERSION sha256 HASH` and the package's path, for later steps (upload, release notes).
#
# Environment:
#   PUZZLE_STORE     the job store (default: .puzzle beside pipelines/). Keep it between runs (a CI cache, a shared
#                    file system) and an unchanged spec republishes nothing, in seconds; start it empty for a clean
#                    rebuild. A rebuild from an empty store gives the same keys and the same weights on the same
#                    build, but new measurements (speeds), so the package's bytes differ: give it a new version
#                    (pack.version) or a feed without the old one. The package's puzzle/provenance.json says exactly
#                    what is not bit-identical.
#   PUZZLE_NO_BUILD  1: use the CLI already built in src/Puzzle.Cli/bin/Release (CI builds it first anyway)
#   the variable named by pack.api_key_env (default NUGET_API_KEY), when pack.source names a NuGet server
#
# Exit status: 0 when the package is on the feed and checks out, 1 otherwise (the failing job's log tail is printed).
#
# In a CI workflow this is one step, e.g.
#   - run: examples/ci/publish.sh pipelines/moby-2x.yaml
#     env: { PUZZLE_STORE: /cache/puzzle, NUGET_API_KEY: <from the CI's secret store> }
# followed by uploading artifacts/<pipeline>/ (report, exported model, package) as the build's artifacts.
set -euo pipefail

spec=${1:?usage: examples/ci/publish.sh PIPELINE.yaml}
[ -f "$spec" ] || { echo "error: $spec: no such pipeline spec" >&2; exit 1; }
root=$(cd "$(dirname "$0")/../.." && pwd)
cli="$root/src/Puzzle.Cli/bin/Release/net10.0/puzzle.dll"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

if [ "${PUZZLE_NO_BUILD:-0}" != 1 ]; then
  dotnet build "$root/src/Puzzle.Cli/Puzzle.Cli.csproj" -c Release -nologo -v quiet
fi
[ -f "$cli" ] || { echo "error: $cli is missing; build the CLI (dotnet build -c Release) or unset PUZZLE_NO_BUILD" >&2; exit 1; }
store=()
if [ -n "${PUZZLE_STORE:-}" ]; then store=(--store "$PUZZLE_STORE"); fi
puzzle() { dotnet "$cli" "$@"; }

# 1. the spec
graph=$(puzzle graph "$spec" --json "${store[@]}")
name=$(sed -n 's/^  "pipeline": "\(.*\)",$/\1/p' <<<"$graph" | head -1)

# 2. the pipeline, through Publish
started=$(date +%s)
puzzle run "$spec" --target Publish "${store[@]}"

# 3. the published package, checked against its manifest
spec_dir=$(cd "$(dirname "$spec")" && pwd)
base=$([ "$(basename "$spec_dir")" = pipelines ] && dirname "$spec_dir" || echo "$spec_dir") # where the spec's paths resolve
pack="$base/artifacts/$name/package/pack.json"
[ -f "$pack" ] || { echo "error: $pack is missing after the run" >&2; exit 1; }
field() { sed -n "s/^  \"$1\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" "$pack"; }
package="$base/artifacts/$name/package/$(field file)"
puzzle verify "$package"

# 4. for later steps
echo "published $(field id) $(field version) sha256 $(field sha256)"
echo "package: $package ($(( $(date +%s) - started )) s)"
