#!/usr/bin/env bash
# Rebuilds every guest ELF into a temporary directory with build.sh and compares
# each byte for byte with the committed guest/bin/*.elf. Exits 0 when they all
# match; otherwise prints the names of the files that differ (or are missing on
# either side) and exits 1. Needs clang and ld.lld (apt-get install -y clang lld).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export LC_ALL=C
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

"$here/build.sh" "$tmp" >/dev/null

differ=()
for f in "$tmp"/*.elf; do
  name="$(basename "$f")"
  if [[ ! -f "$here/bin/$name" ]]; then
    differ+=("$name (not committed in guest/bin)")
  elif ! cmp -s "$f" "$here/bin/$name"; then
    differ+=("$name")
  fi
done
for f in "$here"/bin/*.elf; do
  [[ -e "$f" ]] || continue
  name="$(basename "$f")"
  if [[ ! -f "$tmp/$name" ]]; then
    differ+=("$name (no source in guest/src)")
  fi
done

if [[ ${#differ[@]} -ne 0 ]]; then
  echo "check-reproducible: rebuilt ELFs differ from guest/bin:" >&2
  printf '  %s\n' "${differ[@]}" >&2
  exit 1
fi
echo "check-reproducible: all $(ls "$tmp"/*.elf | wc -l) ELFs rebuild byte for byte"
