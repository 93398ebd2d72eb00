#!/usr/bin/env bash
# Build the Linux desktop bundle: dist/slmdesk-<version>-linux-<arch>.tar.gz
# It holds the one-folder PyInstaller build, install.sh / uninstall.sh (per user, no root),
# the launcher entry, the AppStream metainfo and the icons.
# Usage: packaging/build-linux.sh     (uses ./.venv, made by ./setup.sh if missing;
#                                      VENV=/path/to/venv picks another environment)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
VENV=${VENV:-.venv}

[ -x "$VENV/bin/python" ] || ./setup.sh
# The bundle must carry the portable llama.cpp (a CPU backend per processor level, no AMX),
# never a build made for this machine alone.
"$VENV/bin/python" tools/llama_cpp_is_portable.py || tools/build_llama_cpp.sh "$VENV/bin/python"
"$VENV/bin/python" -m pip install -q "pyinstaller>=6.10"
VERSION=$("$VENV/bin/python" -c "import slmdesk; print(slmdesk.__version__)")
ARCH=$(uname -m)
NAME="slmdesk-$VERSION-linux-$ARCH"
WORK="$ROOT/build/pyinstaller"
STAGE="$ROOT/build/$NAME"

rm -rf "$STAGE" "$WORK/dist"
"$VENV/bin/pyinstaller" --noconfirm --clean --log-level WARN \
  --distpath "$WORK/dist" --workpath "$WORK/work" packaging/slmdesk.spec

mkdir -p "$STAGE/share"
mv "$WORK/dist/slmdesk" "$STAGE/app"
cp resources/org.slmdesk.SLMDesk.desktop resources/org.slmdesk.SLMDesk.metainfo.xml \
   resources/slmdesk.svg "$STAGE/share/"
cp -r resources/icons "$STAGE/share/icons"
cp packaging/install.sh packaging/uninstall.sh "$STAGE/"
chmod +x "$STAGE/install.sh" "$STAGE/uninstall.sh"

mkdir -p dist
tar -C "$ROOT/build" -czf "dist/$NAME.tar.gz" "$NAME"
echo "Built dist/$NAME.tar.gz ($(du -h "dist/$NAME.tar.gz" | cut -f1); unpacked $(du -sh "$STAGE" | cut -f1))"
