#!/usr/bin/env bash
# Remove SLM Desk installed by install.sh. Your models, conversations and adapters stay
# where they are (the app's data folder); delete that folder yourself to remove them too.
set -euo pipefail
DATA="${XDG_DATA_HOME:-$HOME/.local/share}"
ID=org.slmdesk.SLMDesk
rm -rf "$DATA/slmdesk-app"
[ -L "$HOME/.local/bin/slmdesk" ] && rm -f "$HOME/.local/bin/slmdesk"
rm -f "$DATA/applications/$ID.desktop" "$DATA/metainfo/$ID.metainfo.xml"
find "$DATA/icons/hicolor" -name "$ID.*" -delete 2>/dev/null || true
command -v update-desktop-database >/dev/null && update-desktop-database -q "$DATA/applications" || true
echo "SLM Desk is uninstalled. Your data (models, chats) is kept in ~/.local/share/SLMDesk."
