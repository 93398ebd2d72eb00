"""Exit 0 if the llama-cpp-python installed here is the portable build of
tools/build_llama_cpp.sh (the pinned version, its marker file next to the libraries), else 1.

setup.sh asks this so that running it again does not compile llama.cpp again, while an ordinary
(-march=native) build, left by an older setup.sh or installed by hand, is replaced.
"""

import importlib.metadata
import importlib.util
import pathlib
import sys

WANTED_VERSION = "0.3.36"
MARKER = "SLMDESK_PORTABLE_BUILD"


def main() -> int:
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or spec.origin is None:
        return 1
    try:
        if importlib.metadata.version("llama-cpp-python") != WANTED_VERSION:
            return 1
    except importlib.metadata.PackageNotFoundError:
        return 1
    lib = pathlib.Path(spec.origin).parent / "lib"
    return 0 if (lib / MARKER).is_file() and any(lib.glob("libggml-cpu*")) else 1


if __name__ == "__main__":
    sys.exit(main())
