#!/usr/bin/env bash
# Installs the tools .ci/run needs beyond the Rust toolchain (idempotent).
set -euo pipefail

want_audit="0.22.0"
if ! cargo audit --version 2>/dev/null | grep -q "$want_audit"; then
  # A debug build compiles much faster and audits a lock file just as well.
  cargo install cargo-audit --version "$want_audit" --locked --debug
fi
