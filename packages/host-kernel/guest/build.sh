#!/usr/bin/env bash
# Rebuilds every guest ELF (src/*.c linked with the runtime) into guest/bin/, or
# into the directory given as $1. `--linux-shim DIR` builds test-only variants,
# whose threads and umtx go through Linux clone/futex, into DIR (never into bin/). Reproducible: fixed flags and input order,
# relative source paths with -ffile-prefix-map, no build id, no timestamps, no
# debug info; the output depends only on the sources and the clang/lld version
# (Debian's clang 14 / lld 14 here and in CI).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
shim=0
if [[ "${1:-}" == "--linux-shim" ]]; then
  # Test-only: link shim/linux-threads.c so thread programs run under qemu-riscv32.
  shim=1
  shift
  if [[ $# -ne 1 ]]; then
    echo "usage: build.sh [OUTDIR] | build.sh --linux-shim OUTDIR" >&2
    exit 2
  fi
fi
out="${1:-$here/bin}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

CC="${CC:-clang}"
LD="${LD:-ld.lld}"
for tool in "$CC" "$LD"; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "build.sh: $tool not found; install it with: apt-get install -y clang lld" >&2
    exit 127
  fi
done

export LC_ALL=C
export SOURCE_DATE_EPOCH=0
cd "$here"

CFLAGS=(
  --target=riscv32 -march=rv32ima -mabi=ilp32 -mno-relax -mcmodel=medlow
  -nostdlib -static -ffreestanding -fno-builtin -fno-pic -O2 -g0 -std=c11
  -ftls-model=local-exec -fno-stack-protector -fno-unwind-tables -fno-asynchronous-unwind-tables
  -ffunction-sections -fdata-sections -fno-ident
  "-ffile-prefix-map=$here=." "-fdebug-prefix-map=$here=."
  -Wall -Wextra -Wno-unused-parameter
  -Iruntime
)
LDFLAGS=(-m elf32lriscv -static --build-id=none --gc-sections -e _start -z noexecstack --no-undefined)

obj="$(mktemp -d)"
trap 'rm -rf "$obj"' EXIT

mapfile -t runtime_srcs < <(printf '%s\n' runtime/*.S runtime/*.c | sort)
if [[ $shim -eq 1 ]]; then runtime_srcs+=(shim/linux-threads.c); fi
mapfile -t program_srcs < <(printf '%s\n' src/*.c | sort)

# Compile everything in parallel (the objects do not depend on each other or on
# the order), then link in sorted order.
pids=()
compile() { "$CC" "${CFLAGS[@]}" -c "$1" -o "$2" & pids+=($!); }
runtime_objs=()
for src in "${runtime_srcs[@]}"; do
  o="$obj/rt-$(basename "$src").o"
  compile "$src" "$o"
  runtime_objs+=("$o")
done
for src in "${program_srcs[@]}"; do
  compile "$src" "$obj/$(basename "$src" .c).o"
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
if [[ $failed -ne 0 ]]; then
  echo "build.sh: compilation failed" >&2
  exit 1
fi

for src in "${program_srcs[@]}"; do
  name="$(basename "$src" .c)"
  "$LD" "${LDFLAGS[@]}" -o "$out/$name.elf" "$obj/$name.o" "${runtime_objs[@]}"
  echo "built $name.elf"
done
