#!/usr/bin/env bash
# Installs gungraun-runner, the runner of the instruction-count benchmark
# (benches/benches/instructions.rs), at the version of the `gungraun` library that
# Cargo.lock pins: the two must match exactly. Valgrind must be installed too
# (`apt-get install valgrind`). Idempotent: does nothing when the right version is
# already on the PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(awk '/^name = "gungraun"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
version=${version:-0.20.0}

if command -v gungraun-runner >/dev/null 2>&1 \
    && gungraun-runner --version 2>/dev/null | grep -q "$version"; then
    echo "gungraun-runner $version is installed"
else
    cargo install gungraun-runner --version "$version" --locked
fi

if ! command -v valgrind >/dev/null 2>&1; then
    echo "valgrind is missing: apt-get install valgrind" >&2
    exit 1
fi
