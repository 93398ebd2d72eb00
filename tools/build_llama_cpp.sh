#!/usr/bin/env bash
# The one recipe for llama-cpp-python, used by setup.sh (so by .ci/run) and by packaging/.
#
# Why: a `-march=native` build carries the build machine's instructions to every computer it is
# copied to, and on CPUs with AMX it turns on ggml's AMX kernels, which die with SIGILL
# (upstream llama.cpp PR #26954). So nothing here is compiled for the build machine:
#   1. the Python package with libllama and libggml built for runtime backend loading
#      (GGML_BACKEND_DL) and no CPU code of its own;
#   2. from the same llama.cpp sources, the CPU backend once per instruction-set level, as
#      llama.cpp's own releases do (GGML_CPU_ALL_VARIANTS), without the AMX variant
#      (sapphirerapids) while upstream's kernels are broken. They are copied next to libggml;
#      slmdesk.core.engine.cpu_backend picks the best one the processor can run at start.
#
# Usage: tools/build_llama_cpp.sh PYTHON [--native-to DIR]
#   --native-to DIR  also builds a -march=native CPU backend into DIR, for bench/chat_bench.py
#                    only (never installed, never shipped).
set -euo pipefail

LLAMA_CPP_PYTHON_VERSION=0.3.36
# Every x86-64 level from the release list but the AMX one. The ones left out of llama.cpp's
# list (ivybridge, piledriver, cannonlake, cascadelake, cooperlake) fall back to the level
# below them at a small cost; each variant costs about a minute of compiling on 2 cores.
X86_VARIANTS="x64 sse42 sandybridge haswell skylakex icelake zen4 alderlake"

PYTHON=$1
shift
NATIVE_DIR=""
if [ "${1:-}" = "--native-to" ]; then NATIVE_DIR=$2; fi

JOBS=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc 2>/dev/null || echo 2)}
WORK=${SLMDESK_LLAMA_BUILD_DIR:-$(mktemp -d)}
mkdir -p "$WORK"
SRC="$WORK/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION"

if [ ! -d "$SRC" ]; then
  "$PYTHON" -m pip download -q --no-deps --no-binary :all: \
    "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION" -d "$WORK"
  tar -C "$WORK" -xzf "$WORK/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION.tar.gz"
fi

# Common flags: no -march=native, no network code, no tools or tests.
# (Edit this file by writing a new one and moving it into place: bash reads a running script as
# it goes.)
COMMON=(-DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DGGML_BACKEND_DL=ON -DGGML_NATIVE=OFF
        -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF
        -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF
        # The backends find libggml-base next to themselves, not in this build folder.
        "-DCMAKE_INSTALL_RPATH=\$ORIGIN" -DCMAKE_BUILD_WITH_INSTALL_RPATH=ON)

echo "llama.cpp: building the Python package (no CPU code of its own; about 5 minutes on 2 cores)"
CMAKE_ARGS="-DGGML_BACKEND_DL=ON -DGGML_NATIVE=OFF -DGGML_CPU=OFF -DLLAVA_BUILD=OFF" \
  CMAKE_BUILD_PARALLEL_LEVEL=$JOBS "$PYTHON" -m pip install -q --no-deps --force-reinstall "$SRC"
# Its own requirements (from its pyproject.toml), without reinstalling what is there already.
"$PYTHON" -m pip install -q "typing-extensions>=4.5.0" "numpy>=1.20.0" "diskcache>=5.6.1" \
  "jinja2>=2.11.3"

LIB_DIR=$("$PYTHON" - <<'EOF'
import importlib.util, pathlib
spec = importlib.util.find_spec("llama_cpp")
print(pathlib.Path(spec.origin).parent / "lib")
EOF
)

case "$(uname -m)" in
  x86_64|amd64) VARIANTS=$X86_VARIANTS ;;
  *) VARIANTS="" ;;
esac

if [ -n "$VARIANTS" ]; then
  echo "llama.cpp: building the CPU backend for each processor level: $VARIANTS"
  cmake -S "$SRC/vendor/llama.cpp" -B "$WORK/variants" "${COMMON[@]}" -DGGML_CPU_ALL_VARIANTS=ON >/dev/null
  targets=()
  for v in $VARIANTS; do targets+=("ggml-cpu-$v"); done
  cmake --build "$WORK/variants" -j "$JOBS" --target "${targets[@]}" >/dev/null
  for v in $VARIANTS; do cp "$WORK/variants/bin/libggml-cpu-$v.so" "$LIB_DIR/"; done
else
  # Not x86: one CPU backend for the architecture's baseline (GGML_NATIVE=OFF).
  echo "llama.cpp: building the CPU backend for $(uname -m)"
  cmake -S "$SRC/vendor/llama.cpp" -B "$WORK/variants" "${COMMON[@]}" >/dev/null
  cmake --build "$WORK/variants" -j "$JOBS" --target ggml-cpu >/dev/null
  cp "$WORK/variants/bin/libggml-cpu.so" "$LIB_DIR/"
fi
# The AMX variant must never be loadable, even if an earlier build left one.
rm -f "$LIB_DIR/libggml-cpu-sapphirerapids.so"

if [ -n "$NATIVE_DIR" ]; then
  echo "llama.cpp: building a -march=native CPU backend into $NATIVE_DIR (bench only)"
  # ggml refuses GGML_NATIVE with GGML_BACKEND_DL; the compiler's -march=native is the same.
  cmake -S "$SRC/vendor/llama.cpp" -B "$WORK/native" "${COMMON[@]}" \
    -DCMAKE_C_FLAGS=-march=native -DCMAKE_CXX_FLAGS=-march=native >/dev/null
  cmake --build "$WORK/native" -j "$JOBS" --target ggml-cpu >/dev/null
  mkdir -p "$NATIVE_DIR"
  cp "$WORK/native/bin/libggml-cpu.so" "$NATIVE_DIR/libggml-cpu-native.so"
fi
# tools/llama_cpp_is_portable.py looks for this, so that setup.sh does not build twice.
echo "llama-cpp-python $LLAMA_CPP_PYTHON_VERSION; CPU backends: $VARIANTS" > "$LIB_DIR/SLMDESK_PORTABLE_BUILD"
echo "llama.cpp: CPU backends in $LIB_DIR: $(cd "$LIB_DIR" && ls libggml-cpu*.so | tr '\n' ' ')"
