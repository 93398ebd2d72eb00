"""The output layer on a candidate vocabulary: the loss without 262,144 logits per token.

A small model's output layer is most of its training cost: for Gemma 3 270M the 262,144 x 640
matrix is 63% of the weights, so every trained token pays ~670 MFLOP there (forward and input
gradient) against ~400 MFLOP for the whole transformer body. Yet a note of a few pages uses a few
hundred distinct tokens, and at any position the model puts nearly all its probability on a few
dozen. So the loss is computed on a *candidate vocabulary*:

* fixed columns: every token of the training text, plus the tokens the base model itself ranks
  highest at every training position and on the general anchor text (harvested in one full pass
  before training: they carry the probability mass that the softmax must push down);
* plus, drawn afresh at each step, a uniform sample of the remaining columns, each weighted by
  how many columns it stands for (the logit plus ``log(remaining / drawn)``): the classic
  sampled-softmax estimate of the rest of the normaliser, so no token is forgotten for good.

The loss is then an estimate of the full cross-entropy (exact when the sample is the whole rest);
every loss the user sees (validation, perplexity before and after) is still computed on the whole
vocabulary. Measured on the starter: bench/train_bench.py.

Imports torch: only the training worker and the benchmarks use this module.
"""

from __future__ import annotations

from typing import Iterable

import torch

#: Top-ranked tokens of the base model kept per position in the harvest pass.
HARVEST_TOP_K = 16
#: Columns drawn afresh per step from the rest of the vocabulary.
SAMPLED_COLUMNS = 2048


class CandidateVocabulary:
    """The columns of the output layer that the training loss looks at."""

    def __init__(self, vocab_size: int, fixed: Iterable[int] = (), *,
                 sampled: int = SAMPLED_COLUMNS) -> None:
        self.vocab_size = vocab_size
        self.sampled = sampled
        self._is_fixed = torch.zeros(vocab_size, dtype=torch.bool)
        self._fixed = torch.empty(0, dtype=torch.long)
        self._position = torch.full((vocab_size,), -1, dtype=torch.long)
        self.add(fixed)

    # -- the fixed set ---------------------------------------------------------------------------

    def add(self, ids: Iterable[int] | torch.Tensor) -> None:
        """Make ``ids`` fixed columns (ids outside the vocabulary are ignored)."""
        ids = torch.as_tensor(list(ids) if not isinstance(ids, torch.Tensor) else ids,
                              dtype=torch.long).reshape(-1)
        ids = ids[(ids >= 0) & (ids < self.vocab_size)]
        fresh = torch.unique(ids[~self._is_fixed[ids]])
        if fresh.numel() == 0:
            return
        self._is_fixed[fresh] = True
        self._fixed = torch.nonzero(self._is_fixed).squeeze(1)
        self._position.fill_(-1)
        self._position[self._fixed] = torch.arange(self._fixed.numel())

    @property
    def fixed(self) -> torch.Tensor:
        return self._fixed

    def __len__(self) -> int:
        return int(self._fixed.numel())

    def positions(self, token_ids: torch.Tensor) -> torch.Tensor:
        """Where each of ``token_ids`` sits among the columns (all must be fixed)."""
        where = self._position[token_ids]
        if bool((where < 0).any()):
            missing = token_ids[where < 0][:5].tolist()
            raise ValueError(f"tokens {missing} are not in the candidate vocabulary")
        return where

    def state(self) -> list[int]:
        return self._fixed.tolist()

    # -- the columns of one step -----------------------------------------------------------------

    def draw(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(columns, logit correction or None): the fixed columns first, then a fresh uniform
        sample of the others (torch's global generator, so a resumed run draws the same)."""
        rest = self.vocab_size - len(self)
        if rest <= 0 or self.sampled <= 0:
            return self._fixed, None
        if rest <= self.sampled:  # small vocabulary: take all of it, exactly
            return torch.cat([self._fixed, torch.nonzero(~self._is_fixed).squeeze(1)]), None
        # Uniform over the non-fixed columns, with replacement: draw from the whole vocabulary
        # and map fixed hits onto the non-fixed ones by a second draw (rarely needed).
        drawn = torch.randint(self.vocab_size, (self.sampled,))
        hits = self._is_fixed[drawn]
        while bool(hits.any()):
            drawn[hits] = torch.randint(self.vocab_size, (int(hits.sum()),))
            hits = self._is_fixed[drawn]
        columns = torch.cat([self._fixed, drawn])
        correction = torch.zeros(columns.numel())
        correction[len(self):] = float(torch.log(torch.tensor(rest / self.sampled)))
        return columns, correction


def candidate_logits(hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                     columns: torch.Tensor, correction: torch.Tensor | None) -> torch.Tensor:
    """Logits of ``hidden`` on ``columns`` only, with the sampled columns' correction added."""
    logits = hidden @ weight[columns].T
    if bias is not None:
        logits = logits + bias[columns]
    if correction is not None:
        logits = logits + correction
    return logits


def harvest_top_tokens(logits: torch.Tensor, k: int = HARVEST_TOP_K) -> torch.Tensor:
    """The ``k`` highest-ranked token ids of each row of full-vocabulary ``logits``."""
    return torch.topk(logits, min(k, logits.shape[-1]), dim=-1).indices.reshape(-1)
