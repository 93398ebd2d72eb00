#!/usr/bin/env bash
# Check a built Linux bundle the way a person would use it: unpack the tarball, install it into
# a temporary HOME, validate the launcher entry and metainfo, run the frozen app's --self-test
# (engine and training through the plain clients), its --gui-check (the real window: a reply
# streamed into the Chat page, the wizard's token preview, Compare), and chat with the frozen
# engine on emulated older processors (packaging/check-old-cpu.py, when qemu-user is there).
# Usage: packaging/check-linux.sh dist/slmdesk-*.tar.gz [SHOT_DIR]
# Needs: desktop-file-utils, appstream (and qemu-user for the old-processor check).
set -euo pipefail
TARBALL=$(readlink -f "$1")
SHOTS=${2:+$(readlink -f "$2")}
CHECKOUT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export HOME="$WORK/home" XDG_DATA_HOME="$WORK/home/.local/share"
mkdir -p "$HOME"

tar -C "$WORK" -xzf "$TARBALL"
"$WORK"/slmdesk-*/install.sh
DESKTOP="$XDG_DATA_HOME/applications/org.slmdesk.SLMDesk.desktop"
test -f "$DESKTOP"
desktop-file-validate "$DESKTOP" && echo "launcher entry: valid ($DESKTOP)"
appstreamcli validate --no-net "$XDG_DATA_HOME/metainfo/org.slmdesk.SLMDesk.metainfo.xml"
test -f "$XDG_DATA_HOME/icons/hicolor/256x256/apps/org.slmdesk.SLMDesk.png" && echo "icons: installed"
EXEC=$(sed -n 's/^Exec="\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$DESKTOP")
test -x "$EXEC" && echo "launcher runs: $EXEC"
time "$EXEC" --self-test
time QT_QPA_PLATFORM=offscreen "$EXEC" --gui-check $SHOTS
if command -v qemu-x86_64 >/dev/null && [ "$(uname -m)" = x86_64 ]; then
  "$CHECKOUT/.venv/bin/python" "$CHECKOUT/packaging/check-old-cpu.py" --app "$EXEC"
else
  echo "old-processor check skipped: qemu-user is not installed"
fi
"$WORK"/slmdesk-*/uninstall.sh
test ! -e "$DESKTOP" && echo "uninstall: launcher entry removed"
