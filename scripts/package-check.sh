#!/usr/bin/env bash
# The packaging gate: both publishable crates package offline against the workspace
# (macros first: `steadfast` depends on it, unpublished), and the packaged `steadfast`
# builds and passes its doc tests from the `.crate` contents alone, so nothing it needs
# is left outside `include`. Prints what each `.crate` holds (file count, size).
#
# Needs cargo >= 1.90 (packaging workspace members that depend on each other before
# either is published). Runs offline: every dependency comes from the local registry
# cache that `cargo test --workspace` fills.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

version=$(cargo metadata --format-version 1 --no-deps --offline |
    python3 -c 'import json, sys
print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "steadfast"))')

# `--no-verify`: cargo's own verification only builds; the unpacked crate below is
# built *and* doc-tested. `--allow-dirty` so the gate also checks work not yet
# committed (CI runs on a clean checkout either way).
cargo package --offline --allow-dirty --no-verify -p steadfast-macros -p steadfast

packages="$root/target/package"
for crate in steadfast-macros steadfast; do
    file="$packages/$crate-$version.crate"
    test -f "$file" || { echo "package-check: $file is missing" >&2; exit 1; }
    count=$(tar -tzf "$file" | grep -cv '/$')
    size=$(stat -c %s "$file")
    unpacked=$(tar -xzOf "$file" | wc -c)
    echo "package-check: $crate-$version.crate: $count files, $size bytes compressed, $unpacked bytes unpacked"
    tar -tzf "$file" | sed 's/^/    /'
done

# Every published crate carries both license texts as real files (symlinks in the
# repository become file contents in the archive), and `steadfast` its README.
for crate in steadfast-macros steadfast; do
    for license in LICENSE-MIT LICENSE-APACHE; do
        cmp <(tar -xzOf "$packages/$crate-$version.crate" "$crate-$version/$license") "$license" ||
            { echo "package-check: $crate lacks $license" >&2; exit 1; }
    done
done
cmp <(tar -xzOf "$packages/steadfast-$version.crate" "steadfast-$version/README.md") README.md ||
    { echo "package-check: steadfast lacks README.md" >&2; exit 1; }

# Unpack both outside the workspace (inside it, cargo would take the unpacked crate
# for a member of this workspace) and build `steadfast` from the archive, with
# `steadfast-macros` patched to its unpacked archive too: neither is on crates.io yet.
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
tar -xzf "$packages/steadfast-macros-$version.crate" -C "$scratch"
tar -xzf "$packages/steadfast-$version.crate" -C "$scratch"
cd "$scratch/steadfast-$version"
# A target directory that outlives the run, so that the gate is warm the second time.
export CARGO_TARGET_DIR="$root/target/package-check"
patch=(--config "patch.crates-io.steadfast-macros.path=\"$scratch/steadfast-macros-$version\"")

echo "== package-check: the packaged steadfast, default features: build and doc tests"
cargo test "${patch[@]}" --offline --doc
echo "== package-check: the packaged steadfast, all features (as docs.rs builds it): rustdoc"
RUSTDOCFLAGS="-D warnings" cargo doc "${patch[@]}" --offline --all-features --no-deps
# docs.rs itself: nightly rustdoc with `--cfg docsrs`, so the feature badges
# (`doc(cfg(..))`) are checked too. Only where a nightly toolchain is installed.
if rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "== package-check: the packaged steadfast as docs.rs documents it (nightly, --cfg docsrs)"
    RUSTDOCFLAGS="--cfg docsrs -D warnings" rustup run nightly \
        cargo doc "${patch[@]}" --offline --all-features --no-deps
    grep -q 'Available on crate feature <code>backoff</code> only\|Available on crate feature `backoff` only' \
        "$CARGO_TARGET_DIR/doc/steadfast/index.html" ||
        { echo "package-check: the docs.rs build shows no \`backoff\` badge" >&2; exit 1; }
else
    echo "== package-check: no nightly toolchain: the docs.rs build (--cfg docsrs) is not checked"
fi

echo "package-check: ok"
