#!/usr/bin/env bash
# Builds the library with exactly the toolchain named by `rust-version` in
# Cargo.toml, once per feature set below, so the declared MSRV is proven and
# can never drift from what is checked.
#
#   scripts/msrv-check.sh
#
# An old cargo cannot use this workspace as it is: it cannot read a version 4
# Cargo.lock, it resolves the dev-dependencies (which need newer compilers),
# and it has no sparse access to the registry. So the current cargo prepares a
# standalone copy in a temporary directory: `src/`, a generated Cargo.toml with
# only the package fields, [dependencies] and [features] of the real one, the
# dependency versions of the real Cargo.lock, and those dependencies vendored.
# Dependencies that need a newer compiler than the MSRV can be pinned to older
# versions below. The MSRV cargo then builds that copy offline, with warnings
# as errors. Only the library is built: tests, benches, doc tests and examples
# keep using the current toolchain.
#
# Needs rustup with the MSRV toolchain installed
# (`rustup toolchain install "$msrv" --profile minimal`).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
manifest="$root/Cargo.toml"

# One entry per feature set, as cargo arguments; "" is the default features
# (`std`), then `alloc` alone, then neither.
feature_sets=(
    ""
    "--no-default-features --features alloc"
    "--no-default-features"
    "--features diagnostics"
)

# Dependency versions to build with when the ones in Cargo.lock need a newer
# compiler than the MSRV, as `NAME@VERSION` (passed to
# `cargo update -p NAME --precise VERSION`). None is needed today.
pins=()

# The value of `rust-version` in [package].
msrv="$(awk '
    /^\[/ { in_package = ($0 == "[package]") }
    in_package && $1 == "rust-version" { gsub(/"/, "", $3); print $3; exit }
' "$manifest")"
if [ -z "$msrv" ]; then
    echo "msrv-check: no rust-version in [package] of $manifest" >&2
    exit 1
fi

# The package fields a build needs.
package_field() {
    awk -v key="$1" '
        /^\[/ { in_package = ($0 == "[package]") }
        in_package && $1 == key { print; exit }
    ' "$manifest"
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

{
    echo "[package]"
    for key in name version edition rust-version; do
        package_field "$key"
    done
    echo
    # [dependencies], [dependencies.NAME], [features] and target-specific
    # dependencies, verbatim. Sections naming loom are left out: the loom
    # shim is built only under its own cfg, and loom's dependency tree need
    # not even parse with an old cargo.
    awk '
        /^\[/ {
            keep = ($0 ~ /^\[(dependencies|features)(\.[^]]*)?\]$/ ||
                    $0 ~ /^\[target\..*\.dependencies(\.[^]]*)?\]$/) &&
                   $0 !~ /loom/
        }
        keep
    ' "$manifest"
} >"$work/Cargo.toml"
cp -R "$root/src" "$work/src"
# src/lib.rs includes the README for its doc tests.
cp "$root/README.md" "$work/README.md"

echo "msrv-check: rust-version is $msrv; manifest built with it:"
sed 's/^/    /' "$work/Cargo.toml"

# Resolve with the current cargo, keeping the versions of the real Cargo.lock,
# and vendor the result so the old cargo needs no registry access.
cp "$root/Cargo.lock" "$work/Cargo.lock"
(
    cd "$work"
    cargo metadata --format-version 1 >/dev/null
    for pin in ${pins[@]+"${pins[@]}"}; do
        echo "+ cargo update -p ${pin%@*} --precise ${pin#*@}"
        cargo update --quiet -p "${pin%@*}" --precise "${pin#*@}"
    done
    cargo vendor --quiet --locked vendor
)
mkdir -p "$work/.cargo"
cat >"$work/.cargo/config.toml" <<'EOF'
[source.crates-io]
replace-with = "vendored-sources"

[source.vendored-sources]
directory = "vendor"
EOF
# Registry packages are written alike in lockfile versions 3 and 4; an old
# cargo reads only up to 3.
sed -i 's/^version = 4$/version = 3/' "$work/Cargo.lock"
echo "msrv-check: dependency versions:"
awk '/^name = / { name = $3 } /^version = "/ { print "    " name " " $3 }' "$work/Cargo.lock" | tr -d '"'

cargo "+$msrv" --version
rustc "+$msrv" --version
# Warnings are errors: the MSRV build is clean today, and a warning only the
# old compiler gives (an unknown lint name, say) is worth a look; should one
# ever be spurious, allow that lint where it fires, with the reason.
for features in "${feature_sets[@]}"; do
    echo "+ cargo +$msrv build --offline --locked ${features:-(default features)}"
    # shellcheck disable=SC2086 # a feature set is a list of arguments
    (cd "$work" && RUSTFLAGS="-D warnings" cargo "+$msrv" build --offline --locked $features)
done
echo "msrv-check: the library builds with Rust $msrv"
