#!/usr/bin/env bash
# Install SLM Desk for the current user (no root): the app under ~/.local/share/slmdesk-app,
# the `slmdesk` command in ~/.local/bin, a launcher entry and icons in the user's data dirs.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
BIN="$HOME/.local/bin"
APP_DIR="$DATA/slmdesk-app"
ID=org.slmdesk.SLMDesk

mkdir -p "$BIN" "$DATA/applications" "$DATA/metainfo" \
         "$DATA/icons/hicolor/scalable/apps"
rm -rf "$APP_DIR"
cp -r "$HERE/app" "$APP_DIR"
ln -sf "$APP_DIR/slmdesk" "$BIN/slmdesk"

sed "s|^Exec=.*|Exec=\"$APP_DIR/slmdesk\"|" "$HERE/share/$ID.desktop" \
  > "$DATA/applications/$ID.desktop"
cp "$HERE/share/$ID.metainfo.xml" "$DATA/metainfo/"
cp "$HERE/share/slmdesk.svg" "$DATA/icons/hicolor/scalable/apps/$ID.svg"
for png in "$HERE"/share/icons/slmdesk-*.png; do
  size=$(basename "$png" .png); size=${size#slmdesk-}
  mkdir -p "$DATA/icons/hicolor/${size}x${size}/apps"
  cp "$png" "$DATA/icons/hicolor/${size}x${size}/apps/$ID.png"
done
command -v update-desktop-database >/dev/null && update-desktop-database -q "$DATA/applications" || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$DATA/icons/hicolor" || true
echo "SLM Desk is installed. Start it from your applications menu, or run: $BIN/slmdesk"
