"""The training-memory verdict shared by the wizard's pages, and its colours."""

from __future__ import annotations

from slmdesk.core.gguf.info import ModelInfo, format_bytes
from slmdesk.core.library.memory import COMFORTABLE_SHARE, Verdict
from slmdesk.core.training.job import TrainingJob, estimate_peak_memory

VERDICT_COLOURS = {Verdict.FITS: "#1b7f3b", Verdict.TIGHT: "#b26a00",
                   Verdict.WILL_NOT_FIT: "#c62828"}


def training_verdict(needed: int, available: int) -> Verdict:
    """The library's fits / tight / will-not-fit rule, applied to training's peak memory."""
    if needed <= available * COMFORTABLE_SHARE:
        return Verdict.FITS
    return Verdict.TIGHT if needed <= available else Verdict.WILL_NOT_FIT


def training_memory(job: TrainingJob, info: ModelInfo, available: int,
                    cached: bool) -> tuple[int, Verdict, str]:
    """Peak memory of training ``job`` on this model, its verdict and a sentence saying so."""
    needed = estimate_peak_memory(job, info, cached=cached)
    verdict = training_verdict(needed, available)
    sentence = {
        Verdict.FITS: "fits comfortably",
        Verdict.TIGHT: "fits, but close other programs while it trains",
        Verdict.WILL_NOT_FIT: "will not fit: training would likely run out of memory",
    }[verdict]
    text = (f"Training needs about {format_bytes(needed)} of memory at its peak; "
            f"{format_bytes(available)} is available: {sentence}.")
    return needed, verdict, text

