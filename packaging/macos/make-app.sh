#!/usr/bin/env bash
# Assembles Switchboard.app from a built binary:
#
#   Switchboard.app/Contents/Info.plist              packaging/macos/Info.plist, versioned
#   Switchboard.app/Contents/MacOS/switchboard       the binary
#   Switchboard.app/Contents/Resources/switchboard.icns
#
#   packaging/macos/make-app.sh [BINARY] [OUTPUT_DIR]
#
# BINARY defaults to target/release/switchboard (build it first: `cargo build --release`, or
# a universal binary, see README.md); OUTPUT_DIR to target/macos. Runs anywhere (the layout
# is plain files), so it is also checked on Linux; signing and notarizing are Mac-only steps
# described in README.md.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
binary="${1:-$root/target/release/switchboard}"
out="${2:-$root/target/macos}"
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -1)"

if [ ! -x "$binary" ]; then
  echo "make-app: $binary is missing: run cargo build --release first" >&2
  exit 1
fi
app="$out/Switchboard.app"
rm -rf "$app"
mkdir -p "$app/Contents/MacOS" "$app/Contents/Resources"
sed "s/@VERSION@/$version/g" "$root/packaging/macos/Info.plist" >"$app/Contents/Info.plist"
cp "$binary" "$app/Contents/MacOS/switchboard"
cp "$root/assets/icons/switchboard.icns" "$app/Contents/Resources/switchboard.icns"
printf 'APPL????' >"$app/Contents/PkgInfo"
echo "$app"
