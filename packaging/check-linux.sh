#!/usr/bin/env bash
# Check a built Linux bundle the way a person would use it: unpack the tarball, install it into
# a temporary HOME, validate the launcher entry and metainfo, then run the frozen app's
# --self-test. Usage: packaging/check-linux.sh dist/slmdesk-*.tar.gz
set -euo pipefail
TARBALL=$(readlink -f "$1")
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
"$WORK"/slmdesk-*/uninstall.sh
test ! -e "$DESKTOP" && echo "uninstall: launcher entry removed"
