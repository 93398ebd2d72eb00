"""llama.cpp with the CPU backend this processor can run, chosen when the child process starts.

``tools/build_llama_cpp.sh`` builds llama.cpp as llama.cpp's own releases do: ``libllama`` and
``libggml`` with no CPU code of their own (``GGML_BACKEND_DL``), and the CPU backend once per
instruction-set level (``libggml-cpu-haswell.so``, ``libggml-cpu-zen4.so``, ...). Each of those
exports ``ggml_backend_score``, which reads the processor's features (cpuid) and answers 0 when
it cannot run that build, else a higher number for a better fit. llama-cpp-python 0.3.36 does not
bind ``ggml_backend_load_all``, so this module does its work through ctypes: score every
variant, load the best one, and remember its name for the ready event and the benchmarks.

The AMX variant is never loaded, even when present: ggml's AMX kernels die with SIGILL on
worker threads (llama.cpp PR #26954). A llama-cpp-python built the ordinary way has its CPU
backend linked in; that is used as it is and reported as ``built-in``.

Every user of llama.cpp (the engine host, the token counter, benchmarks, tests) imports it with
:func:`import_llama_cpp`, so none runs without a CPU backend or with a different one.
"""

from __future__ import annotations

import ctypes
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from slmdesk.core.errors import SlmdeskError

#: Set to a variant name ("haswell") or to the path of a CPU backend library to use that one
#: instead of the best (bench/chat_bench.py compares builds this way).
CPU_BACKEND_VARIABLE = "SLMDESK_CPU_BACKEND"
#: Variants never loaded: ggml's AMX kernels (llama.cpp PR #26954).
BLOCKED_VARIANTS = frozenset({"sapphirerapids"})
BUILT_IN = "built-in"

_PREFIX, _SUFFIX = {"win32": ("", ".dll"), "darwin": ("lib", ".so")}.get(
    sys.platform, ("lib", ".so"))


class CpuBackendError(SlmdeskError):
    """No CPU backend of this llama.cpp build can run here (or the one asked for cannot)."""


@dataclass(frozen=True)
class CpuBackend:
    """The CPU backend in use: its variant name, its file, and every variant's score here."""

    name: str
    path: str | None
    scores: dict[str, int]


_loaded: CpuBackend | None = None


def import_llama_cpp() -> tuple[ModuleType, CpuBackend]:
    """``import llama_cpp``, with the best CPU backend for this processor loaded (once)."""
    import llama_cpp

    global _loaded
    if _loaded is None:
        # ggml's functions through libllama's own handle: dlsym searches a library's
        # dependencies, so this is the very libggml that libllama uses (its lib folder holds
        # copies of libggml.so under several names; opening one by path could load a second,
        # separate ggml whose backend registry libllama never sees).
        _loaded = load_cpu_backend(Path(llama_cpp.__file__).resolve().parent / "lib",
                                   llama_cpp.llama_cpp._lib)  # noqa: SLF001
    return llama_cpp, _loaded


def variant_name(path: Path) -> str:
    """``libggml-cpu-zen4.so`` -> ``zen4``."""
    stem = path.name[len(_PREFIX):-len(_SUFFIX)] if path.name.endswith(_SUFFIX) else path.stem
    return stem.removeprefix("ggml-cpu-").removeprefix("ggml-cpu") or "default"


def variant_files(lib_dir: Path) -> list[Path]:
    """The CPU backend libraries next to libggml (the variants, or one plain ``ggml-cpu``)."""
    found = sorted(lib_dir.glob(f"{_PREFIX}ggml-cpu-*{_SUFFIX}"))
    plain = lib_dir / f"{_PREFIX}ggml-cpu{_SUFFIX}"
    return found + ([plain] if plain.is_file() else [])


def score(path: Path) -> int:
    """What ``ggml_backend_score`` of one variant says about this processor (0: cannot run).

    Loading a variant to ask is safe on any processor: ggml does the same, and the score
    function is compiled without the variant's instruction set.
    """
    try:
        library = ctypes.CDLL(str(path))
        function = library.ggml_backend_score
    except (OSError, AttributeError):
        return 0
    function.restype = ctypes.c_int
    function.argtypes = []
    return int(function())


def load_cpu_backend(lib_dir: Path, ggml: ctypes.CDLL) -> CpuBackend:
    """Register the CPU backend to use with ``ggml`` (a handle that resolves ggml's functions,
    see :func:`import_llama_cpp`) and describe it."""
    ggml.ggml_backend_reg_by_name.restype = ctypes.c_void_p
    ggml.ggml_backend_reg_by_name.argtypes = [ctypes.c_char_p]
    if ggml.ggml_backend_reg_by_name(b"CPU"):
        return CpuBackend(BUILT_IN, None, {})
    forced = os.environ.get(CPU_BACKEND_VARIABLE, "").strip()
    files = {variant_name(path): path for path in variant_files(lib_dir)}
    scores = {name: (0 if name in BLOCKED_VARIANTS else score(path))
              for name, path in files.items()}
    if forced and (os.sep in forced or forced.endswith(_SUFFIX)):
        # A build given by path (a benchmark's -march=native one) is taken as it is.
        chosen = variant_name(Path(forced))
        files[chosen], scores[chosen] = Path(forced), max(1, score(Path(forced)))
    elif forced:
        if forced not in files:
            raise CpuBackendError(f"There is no CPU backend named {forced!r} in {lib_dir} "
                                  f"(there are: {', '.join(sorted(files)) or 'none'}).")
        chosen = forced
    else:
        runnable = {name: value for name, value in scores.items() if value > 0}
        if not runnable:
            raise CpuBackendError(
                "None of llama.cpp's CPU backends can run on this processor "
                f"(found: {', '.join(sorted(files)) or 'none'} in {lib_dir}). "
                "Reinstall SLM Desk with ./setup.sh.")
        chosen = max(runnable, key=lambda name: runnable[name])
    if scores.get(chosen, 0) <= 0:
        raise CpuBackendError(f"The {chosen} CPU backend cannot run on this processor.")
    ggml.ggml_backend_load.restype = ctypes.c_void_p
    ggml.ggml_backend_load.argtypes = [ctypes.c_char_p]
    if not ggml.ggml_backend_load(str(files[chosen]).encode()):
        raise CpuBackendError(f"llama.cpp could not load its CPU backend {files[chosen]}.")
    return CpuBackend(chosen, str(files[chosen]), scores)
