"""The base model's one full-vocabulary pass before training: candidates and anchor targets.

The candidate loss (:mod:`slmdesk.core.training.vocabulary`) needs the base model's likeliest
tokens at every position of the documents' text, and the anchor term needs its predictions on
the general anchor windows. They used to be two passes (:func:`loop.harvest_candidates`, then
:func:`loop.anchor_targets`), each a forward pass per chunk or window. Here both kinds of rows
share right-padded forward passes (padding sits to the right and attention is causal, so no
real token sees it), and the output layer runs once over all their positions, a slice at a time.
The result is the same as the two passes (a test checks it), in fewer, wider matrix products.

Imports torch: only the training worker and the benchmarks use this module.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from slmdesk.core.training.loop import (
    LOGIT_SLICE_ELEMENTS,
    PAD,
    AnchorTargets,
    _decoder_and_head,
    _model_ids,
)
from slmdesk.core.training.vocabulary import (
    HARVEST_TOP_K,
    CandidateVocabulary,
    harvest_top_tokens,
)

#: Tokens per shared forward pass (rows x longest row).
PASS_TOKEN_BUDGET = 1024
ANCHOR_TOP_K = 32


def _groups(rows: Sequence[Sequence[int]], budget: int) -> list[list[int]]:
    """Row indices laid side by side, longest first, while rows x longest fits ``budget``."""
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]), reverse=True)
    groups: list[list[int]] = []
    for index in order:
        if groups and (len(groups[-1]) + 1) * len(rows[groups[-1][0]]) <= budget:
            groups[-1].append(index)
        else:
            groups.append([index])
    return groups


def base_predictions(model: nn.Module, text_chunks: Sequence[Sequence[int]],
                     windows: Sequence[Sequence[int]], vocabulary: CandidateVocabulary, *,
                     harvest_k: int = HARVEST_TOP_K, anchor_k: int = ANCHOR_TOP_K,
                     budget: int = PASS_TOKEN_BUDGET) -> AnchorTargets | None:
    """Add the tokens of ``text_chunks`` and the model's ``harvest_k`` likeliest tokens at each
    of their positions to ``vocabulary``, and return the anchor targets on ``windows`` (None
    when there are none), their top tokens added to ``vocabulary`` too. No autograd, fp32."""
    for chunk in text_chunks:
        vocabulary.add(chunk)
    parts = _decoder_and_head(model)
    if parts is None:
        return None
    body, head = parts
    rows = [list(chunk) for chunk in text_chunks] + [list(window) for window in windows]
    hidden_of: list[torch.Tensor | None] = [None] * len(rows)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for group in _groups([r for r in rows], budget):
                width = len(rows[group[0]])
                batch = torch.tensor([rows[i] + [PAD] * (width - len(rows[i])) for i in group],
                                     dtype=torch.long)
                states = body(input_ids=_model_ids(batch), use_cache=False).last_hidden_state
                for slot, index in enumerate(group):
                    hidden_of[index] = states[slot, :len(rows[index]) - 1]
            slice_rows = max(1, LOGIT_SLICE_ELEMENTS // head.weight.shape[0])
            text = [h for h in hidden_of[:len(text_chunks)] if h is not None and len(h)]
            if text:
                harvest = torch.cat(text)
                for start in range(0, harvest.shape[0], slice_rows):
                    logits = harvest[start:start + slice_rows] @ head.weight.T
                    vocabulary.add(harvest_top_tokens(logits, harvest_k))
            if not windows:
                return None
            ids, logprobs = [], []
            for hidden in hidden_of[len(text_chunks):]:
                assert hidden is not None
                logits = hidden @ head.weight.T
                if head.bias is not None:
                    logits += head.bias
                top = torch.topk(torch.log_softmax(logits, dim=-1), anchor_k, dim=-1)
                ids.append(top.indices.clone())
                logprobs.append(top.values.clone())
                vocabulary.add(top.indices)
    finally:
        model.train(was_training)
    tensors = [torch.tensor([list(window)], dtype=torch.long) for window in windows]
    return AnchorTargets(tensors, ids, logprobs)
