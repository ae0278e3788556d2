#!/usr/bin/env bash
# Supply-chain check: the dependency graph a user of `steadfast` gets with the default
# features, against the offline RustSec snapshot in ../shared/advisory-db. Fails on any
# advisory (vulnerabilities and warnings: unmaintained, unsound, yanked).
#
#   scripts/audit.sh            # default features: must be clean
#   scripts/audit.sh redis      # the fleet-wide limiter's graph: must be clean too
#   scripts/audit.sh backoff    # the optional, unmaintained interop: prints its advisories
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
db="${STEADFAST_ADVISORY_DB:-$root/../shared/advisory-db}"
features="${1:-}"

dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/src"
touch "$dir/src/lib.rs"
cat > "$dir/Cargo.toml" <<TOML
[package]
name = "steadfast-consumer"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
steadfast = { path = "$root/runtime", features = [${features:+\"$features\"}] }

[workspace]
TOML
# Start from the workspace's lock file so the versions audited are the ones tested;
# cargo prunes it to this consumer's graph (no dev-, bench- or example-only crates).
cp "$root/Cargo.lock" "$dir/Cargo.lock"
(cd "$dir" && cargo metadata --format-version 1 > /dev/null)
echo "auditing $(grep -c '^name = ' "$dir/Cargo.lock") crates (features: ${features:-default})"
if [ "$features" = "backoff" ]; then
  # Known: RUSTSEC-2025-0012 (backoff) and RUSTSEC-2024-0384 (instant); see DESIGN.md.
  cargo audit --no-fetch --db "$db" --file "$dir/Cargo.lock" --deny warnings || true
else
  cargo audit --no-fetch --db "$db" --file "$dir/Cargo.lock" --deny warnings
fi
