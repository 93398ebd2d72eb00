"""Write slmdesk/core/gguf/architectures.py: the model architectures the engine we ship can load.

The list is read from the llama.cpp sources that tools/build_llama_cpp.sh builds (the sdist of the
pinned llama-cpp-python), not from the ``gguf`` package's ``MODEL_ARCH_NAMES``: the ``gguf`` release
on PyPI trails the llama.cpp inside llama-cpp-python (gguf 0.19.0 lists 126 architectures, the
engine 153), so going by it would refuse models the engine runs. An architecture counts when
``src/llama-arch.cpp`` names it (``LLM_ARCH_NAMES``) *and* ``src/llama-model.cpp`` builds a model
for it (``llama_model_mapping``), except "clip": a vision projector (mmproj) that llama.cpp
refuses as a main model ("CLIP cannot be used as main model").

Usage: python tools/llama_cpp_architectures.py LLAMA_CPP_SOURCE_DIR
  (the vendor/llama.cpp folder of the unpacked sdist, for example
  $SLMDESK_LLAMA_BUILD_DIR/llama_cpp_python-0.3.36/vendor/llama.cpp). Run it again when the
  pinned llama-cpp-python version changes.
"""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

TARGET = Path(__file__).resolve().parents[1] / "slmdesk" / "core" / "gguf" / "architectures.py"
LLAMA_CPP_PYTHON_VERSION = "0.3.36"  # the version tools/build_llama_cpp.sh builds
NOT_MAIN_MODELS = {"LLM_ARCH_CLIP"}  # src/llama.cpp: "CLIP cannot be used as main model"

HEADER = '''"""The model architectures the llama.cpp we ship can load, and why a header that names none is refused.

Written by tools/llama_cpp_architectures.py from the sources of llama-cpp-python {version} (see that
script for why this list, not the ``gguf`` package's): do not edit the set by hand. A GGUF file is
loadable when ``general.architecture`` names one of these; a LoRA adapter names its base model's.
"""

from __future__ import annotations

#: The llama-cpp-python release whose llama.cpp sources this list was read from.
LLAMA_CPP_PYTHON_VERSION = "{version}"

LOADABLE_ARCHITECTURES: frozenset[str] = frozenset("""
{names}
""".split())
'''


def loadable_architectures(source: Path) -> list[str]:
    arch_cpp = (source / "src" / "llama-arch.cpp").read_text()
    model_cpp = (source / "src" / "llama-model.cpp").read_text()
    table = re.search(r"LLM_ARCH_NAMES\s*=\s*\{(.*?)\n\};", arch_cpp, re.DOTALL)
    mapping = re.search(r"llama_model_mapping\(.*?\n\}", model_cpp, re.DOTALL)
    if table is None or mapping is None:
        raise SystemExit("llama-arch.cpp or llama-model.cpp has changed shape; update this script")
    built = set(re.findall(r"case (LLM_ARCH_\w+):", mapping.group(0)))
    names = re.findall(r"\{\s*(LLM_ARCH_\w+),\s*\"([^\"]+)\"", table.group(1))
    return sorted(name for enum, name in names if enum in built and enum not in NOT_MAIN_MODELS)


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    names = loadable_architectures(Path(sys.argv[1]))
    text = HEADER.format(version=LLAMA_CPP_PYTHON_VERSION,
                         names=textwrap.fill(" ".join(names), width=100))
    TARGET.write_text(text)
    print(f"{len(names)} architectures written to {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
