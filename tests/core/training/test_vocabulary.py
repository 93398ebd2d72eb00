"""The candidate-vocabulary loss: which columns it draws, and how close it stays to the full
cross-entropy (exact when the sample covers the rest, an unbiased normaliser estimate else)."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")

from slmdesk.core.training.vocabulary import CandidateVocabulary, candidate_logits, harvest_top_tokens  # noqa: E402


def test_fixed_columns_come_first_and_samples_avoid_them():
    vocabulary = CandidateVocabulary(1000, [5, 3, 3, 999, 2000, -1], sampled=64)
    assert vocabulary.fixed.tolist() == [3, 5, 999]  # duplicates and out-of-range ids dropped
    torch.manual_seed(0)
    columns, correction = vocabulary.draw()
    assert columns[:3].tolist() == [3, 5, 999]
    assert not set(columns[3:].tolist()) & {3, 5, 999}
    assert len(columns) == 3 + 64
    assert correction[:3].tolist() == [0.0, 0.0, 0.0]
    assert correction[3:].tolist() == pytest.approx([math.log(997 / 64)] * 64)
    assert vocabulary.positions(torch.tensor([999, 3])).tolist() == [2, 0]
    with pytest.raises(ValueError, match="not in the candidate vocabulary"):
        vocabulary.positions(torch.tensor([4]))


def test_draw_is_repeatable_from_the_global_generator():
    vocabulary = CandidateVocabulary(500, range(10), sampled=32)
    torch.manual_seed(7)
    first = vocabulary.draw()[0]
    torch.manual_seed(7)
    assert torch.equal(first, vocabulary.draw()[0])


def test_whole_rest_sampled_gives_the_exact_cross_entropy():
    gen = torch.Generator().manual_seed(0)
    hidden = torch.randn(6, 8, generator=gen)
    weight = torch.randn(40, 8, generator=gen)
    targets = torch.tensor([1, 2, 3, 1, 2, 3])
    vocabulary = CandidateVocabulary(40, targets, sampled=100)  # more than the 37 others
    columns, correction = vocabulary.draw()
    assert correction is None and sorted(columns.tolist()) == list(range(40))
    ours = torch.nn.functional.cross_entropy(
        candidate_logits(hidden, weight, None, columns, correction),
        vocabulary.positions(targets), reduction="sum")
    full = torch.nn.functional.cross_entropy(hidden @ weight.T, targets, reduction="sum")
    assert ours.item() == pytest.approx(full.item(), rel=1e-5)


def test_sampled_normaliser_estimates_the_full_loss():
    """Averaged over draws, the sampled loss lands close to the full one (the tail's mass is
    estimated by importance weights)."""
    gen = torch.Generator().manual_seed(1)
    vocab, width = 5000, 16
    hidden = torch.randn(32, width, generator=gen) * 0.3
    weight = torch.randn(vocab, width, generator=gen)
    targets = torch.randint(0, 50, (32,), generator=gen)
    full = torch.nn.functional.cross_entropy(hidden @ weight.T, targets).item()
    vocabulary = CandidateVocabulary(vocab, range(50), sampled=500)
    torch.manual_seed(0)
    losses = []
    for _ in range(40):
        columns, correction = vocabulary.draw()
        losses.append(torch.nn.functional.cross_entropy(
            candidate_logits(hidden, weight, None, columns, correction),
            vocabulary.positions(targets)).item())
    assert sum(losses) / len(losses) == pytest.approx(full, rel=0.02)
    # Only the fixed columns would be far off: the sample matters.
    only_fixed = torch.nn.functional.cross_entropy(hidden @ weight[:50].T, targets).item()
    assert abs(only_fixed - full) > 5 * abs(sum(losses) / len(losses) - full)


def test_harvest_takes_the_top_tokens_of_each_row():
    logits = torch.tensor([[0.0, 5.0, 1.0, 4.0], [3.0, 0.0, 2.0, 1.0]])
    assert sorted(harvest_top_tokens(logits, 2).tolist()) == [0, 1, 2, 3]
    assert harvest_top_tokens(logits, 1).tolist() == [1, 0]
