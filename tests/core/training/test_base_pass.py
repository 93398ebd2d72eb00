"""The base model's one full-vocabulary pass gives what the two separate passes gave."""

from __future__ import annotations

import torch

from slmdesk.core.training import loop
from slmdesk.core.training.base_pass import base_predictions
from slmdesk.core.training.vocabulary import CandidateVocabulary


def _tiny_llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=300, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64,
                         tie_word_embeddings=True)
    model = LlamaForCausalLM(config).eval()
    model.get_output_embeddings().weight.requires_grad_(False)
    return model


def test_the_combined_pass_gives_the_candidates_and_anchor_targets_of_two_passes():
    model = _tiny_llama()
    generator = torch.Generator().manual_seed(1)
    texts = [torch.randint(2, 300, (n,), generator=generator).tolist() for n in (40, 17, 33, 5)]
    windows = [[1] + torch.randint(2, 300, (n,), generator=generator).tolist() for n in (12, 12, 7)]

    separate = CandidateVocabulary(300, sampled=0)
    loop.harvest_candidates(model, texts, separate, top_k=4)
    anchor = loop.anchor_targets(model, windows, top_k=6)
    assert anchor is not None
    for ids in anchor.top_ids:
        separate.add(ids)

    combined = CandidateVocabulary(300, sampled=0)
    # a small budget, so that rows of different lengths share padded passes
    together = base_predictions(model, texts, windows, combined, harvest_k=4, anchor_k=6,
                                budget=80)
    assert together is not None
    assert combined.state() == separate.state()
    assert len(combined) < 300  # a real subset, or the comparison would be empty
    assert len(together) == len(anchor)
    for mine, theirs in zip(together.windows, anchor.windows):
        assert torch.equal(mine, theirs)
    for mine, theirs in zip(together.top_ids, anchor.top_ids):
        assert torch.equal(mine, theirs)
    for mine, theirs in zip(together.top_logprobs, anchor.top_logprobs):
        torch.testing.assert_close(mine, theirs, rtol=1e-5, atol=1e-5)


def test_without_windows_there_is_no_anchor_and_the_harvest_still_happens():
    model = _tiny_llama()
    vocabulary = CandidateVocabulary(300, sampled=0)
    assert base_predictions(model, [[5, 6, 7, 8]], [], vocabulary, harvest_k=3) is None
    assert {5, 6, 7, 8} <= set(vocabulary.state()) and len(vocabulary) > 4
