#!/usr/bin/env bash
# Renders the application icon from its SVG sources into every file the packages ship:
# the freedesktop hicolor PNG sizes, the Windows .ico and the macOS .icns. The results are
# committed, so building or packaging never needs these tools; run this after editing an SVG.
#
# Needs rsvg-convert (Debian: librsvg2-bin), ImageMagick's convert (imagemagick) for the
# .ico and png2icns (icnsutils) for the .icns.
set -euo pipefail
cd "$(dirname "$0")/.."

app_id=io.github.switchboard.Switchboard
src=assets/icons/switchboard.svg
# Drawn on the 16-pixel grid, so the smallest size is sharp rather than a scaled-down blur.
src_small=assets/icons/switchboard-16.svg
out=assets/icons/hicolor

for size in 16 32 48 64 128 256 512; do
  dir="$out/${size}x${size}/apps"
  mkdir -p "$dir"
  svg="$src"
  [ "$size" -le 16 ] && svg="$src_small"
  rsvg-convert --width "$size" --height "$size" "$svg" --output "$dir/$app_id.png"
done
mkdir -p "$out/scalable/apps"
cp "$src" "$out/scalable/apps/$app_id.svg"

# Windows: one .ico with the sizes Explorer and the taskbar pick from.
convert "$out"/{16x16,32x32,48x48,256x256}/apps/"$app_id".png assets/icons/switchboard.ico
# macOS: an .icns for the app bundle (iconutil on a Mac makes the same from an .iconset).
png2icns assets/icons/switchboard.icns "$out"/{16x16,32x32,48x48,128x128,256x256,512x512}/apps/"$app_id".png >/dev/null
echo "rendered into $out, assets/icons/switchboard.ico and assets/icons/switchboard.icns"
