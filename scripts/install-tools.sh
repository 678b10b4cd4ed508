#!/usr/bin/env bash
# Installs what vkc's tests need beyond Node.js: pnpm 12.4.2, and from Debian clang and lld
# (to rebuild the guest programs) and qemu-user (differential tests and the interpreter
# benchmark). Does nothing for what is already there.
set -euo pipefail
if ! command -v pnpm >/dev/null || [ "$(pnpm --version)" != "12.4.2" ]; then
  npm i -g pnpm@12.4.2
fi
need=()
for tool in clang ld.lld qemu-riscv32 tmux chromium; do command -v "$tool" >/dev/null || need+=("$tool"); done
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq clang lld qemu-user tmux chromium >/dev/null
fi
