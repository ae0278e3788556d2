#!/usr/bin/env bash
# Installs the tools .ci/run needs beyond the Rust toolchain (idempotent).
set -euo pipefail

want_audit="0.22.0"
if ! cargo audit --version 2>/dev/null | grep -q "$want_audit"; then
  # A debug build compiles much faster and audits a lock file just as well.
  cargo install cargo-audit --version "$want_audit" --locked --debug
fi

# Debian's nginx-light, for the nginx example and its test (scripts/nginx-limit-req.sh
# starts it on free ports; nothing here starts it).
if ! command -v nginx >/dev/null 2>&1 && [[ ! -x /usr/sbin/nginx ]]; then
  sudo=""
  if [[ "$(id -u)" -ne 0 ]]; then sudo="sudo"; fi
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends nginx-light
fi
