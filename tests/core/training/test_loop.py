"""The training arithmetic on small real tensors: the sliced loss, batching, the schedule,
checkpoint files."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from slmdesk.core.training import loop  # noqa: E402
from slmdesk.core.training.job import TrainingJob  # noqa: E402


@pytest.mark.parametrize("slice_elements", [1 << 26, 3 * 50])  # one slice, and 3 rows a slice
def test_sliced_cross_entropy_matches_autograd(monkeypatch, slice_elements):
    monkeypatch.setattr(loop, "LOGIT_SLICE_ELEMENTS", slice_elements)
    gen = torch.Generator().manual_seed(0)
    hidden = torch.randn(10, 8, generator=gen, requires_grad=True)
    weight = torch.randn(50, 8, generator=gen)
    bias = torch.randn(50, generator=gen)
    targets = torch.randint(0, 50, (10,), generator=gen)

    ours = loop.LinearCrossEntropy.apply(hidden, weight, bias, targets, True)
    (ours * 0.5).backward()
    got = hidden.grad.clone()
    hidden.grad = None
    reference = torch.nn.functional.cross_entropy(hidden @ weight.T + bias, targets,
                                                  reduction="sum")
    (reference * 0.5).backward()
    assert ours.item() == pytest.approx(reference.item(), rel=1e-5)
    torch.testing.assert_close(got, hidden.grad, rtol=1e-4, atol=1e-6)
    with torch.no_grad():  # evaluation: the loss alone
        assert loop.LinearCrossEntropy.apply(hidden, weight, None, targets, False).item() == \
            pytest.approx(torch.nn.functional.cross_entropy(hidden @ weight.T, targets,
                                                            reduction="sum").item(), rel=1e-5)


def test_micro_batches_never_pad():
    chunks = [[1, 2, 3], [4, 5, 6], [7, 8], [9, 10, 11]]
    batches = loop.micro_batches(chunks, batch_size=3)
    assert [tuple(b.shape) for b in batches] == [(2, 3), (1, 2), (1, 3)]


@pytest.mark.parametrize("schedule, expected", [
    ("constant", [0.5, 1.0, 1.0, 1.0, 1.0]),
    ("linear", [0.5, 1.0, 2 / 3, 1 / 3, 0.0]),
    ("cosine", [0.5, 1.0, 0.75, 0.25, 0.0]),
])
def test_learning_rate_schedules(schedule, expected):
    model = torch.nn.Linear(2, 2)
    job = TrainingJob(base_model_path="m", documents=["d"], learning_rate=1.0,
                      lr_schedule=schedule, warmup_steps=1)
    optimizer, scheduler = loop.make_optimizer(model, job, total_steps=4)
    seen = []
    for _ in range(5):
        seen.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    assert seen == pytest.approx(expected)


def test_checkpoint_round_trip_and_atomic_replacement(tmp_path):
    model = torch.nn.Linear(4, 3)
    job = TrainingJob(base_model_path="m", documents=["d"])
    optimizer, scheduler = loop.make_optimizer(model, job, total_steps=10)
    model(torch.randn(2, 4)).sum().backward()
    optimizer.step()
    scheduler.step()
    rng = torch.get_rng_state()
    loop.save_checkpoint(tmp_path, 1, model, optimizer, scheduler, rng, {"metrics": {"a": 1}})
    path = loop.save_checkpoint(tmp_path, 2, model, optimizer, scheduler, rng, {"metrics": {}})
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == ["step-00000002"]  # keep 1
    saved = {name: p.detach().clone() for name, p in model.named_parameters()}
    expected_draw = torch.rand(3)

    other = torch.nn.Linear(4, 3)
    other_optimizer, other_scheduler = loop.make_optimizer(other, job, total_steps=10)
    checkpoint = loop.latest_checkpoint(tmp_path)
    assert checkpoint.path == path and checkpoint.state["step"] == 2
    loop.load_checkpoint(checkpoint, other, other_optimizer, other_scheduler)
    for name, param in other.named_parameters():
        torch.testing.assert_close(param, saved[name], rtol=0, atol=0)
    assert other_scheduler.last_epoch == 1
    assert other_optimizer.state_dict()["state"][0]["step"] == 1
    torch.testing.assert_close(torch.rand(3), expected_draw, rtol=0, atol=0)  # RNG restored


def _tiny_llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64,
                         tie_word_embeddings=True)
    model = LlamaForCausalLM(config).eval()
    model.get_output_embeddings().weight.requires_grad_(False)
    return model


def test_token_budget_batches_sort_and_pad_to_the_right():
    chunks = [[1, 2], [3, 4, 5, 6], [7, 8, 9], [10, 11, 12, 13, 14, 15, 16, 17]]
    batches = loop.micro_batches(chunks, batch_size=1, token_budget=12)
    assert [b.tolist() for b in batches] == [
        [[10, 11, 12, 13, 14, 15, 16, 17]],
        [[3, 4, 5, 6], [7, 8, 9, loop.PAD], [1, 2, loop.PAD, loop.PAD]]]


@pytest.mark.parametrize("use_candidates", [False, True])
def test_padded_batch_loss_equals_the_sum_of_separate_losses(use_candidates):
    """Right padding changes nothing for the real tokens and is never trained on."""
    from slmdesk.core.training.vocabulary import CandidateVocabulary

    model = _tiny_llama()
    chunks = [[1, 5, 9, 13, 17, 21], [1, 6, 10], [1, 7, 11, 15]]
    vocabulary = CandidateVocabulary(64, range(64)) if use_candidates else None  # exact
    separate = sum(loop.loss_sum(model, torch.tensor([c]), vocabulary)[0].item() for c in chunks)
    (batch,) = loop.micro_batches(chunks, 1, token_budget=100)
    together, count = loop.loss_sum(model, batch, vocabulary)
    assert count == 5 + 2 + 3
    assert together.item() == pytest.approx(separate, rel=1e-5)


def test_input_only_tokens_are_read_but_not_learned():
    """A question marked input-only shapes the answer's context but adds no loss of its own."""
    from slmdesk.core.training.dataset import input_only

    model = _tiny_llama()
    whole = torch.tensor([[1, 5, 9, 13, 17, 21]])
    marked = torch.tensor([[1, input_only(5), input_only(9), 13, 17, 21]])
    loss, count = loop.loss_sum(model, marked)
    assert count == 3  # 13, 17 and 21 are learned
    with torch.no_grad():
        logits = model(input_ids=whole).logits[0, :-1]
    expected = torch.nn.functional.cross_entropy(logits[2:], whole[0, 3:], reduction="sum")
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)


@pytest.mark.parametrize("chunks", [
    [[1, 5, 9, 13, 17, 21, 25, 29, 33, 37]],  # wider than the window
    [[1, 6, 10], [1, 7, 11, 15]],  # narrower, padded rows
])
def test_the_anchor_window_in_the_batchs_pass_gives_what_a_pass_of_its_own_gives(chunks):
    """One forward pass for batch and window: the same loss, and the same KL(base || adapted)
    on the window, as computing them apart."""
    import copy

    from slmdesk.core.training.vocabulary import CandidateVocabulary

    base = _tiny_llama()
    vocabulary = CandidateVocabulary(64, range(64))  # every column: exact
    anchor = loop.anchor_targets(base, [[1, 2, 3, 4, 5, 6], [1, 8, 9, 10, 11, 12, 13]], top_k=8)
    model = copy.deepcopy(base)
    with torch.no_grad():  # away from the base model, or the divergence would be zero
        for param in model.model.layers.parameters():
            param.add_(0.05 * torch.randn_like(param))
    (batch,) = loop.micro_batches(chunks, 1, token_budget=100)
    for index in range(2):
        loss, count, divergence = loop.loss_and_divergence(model, batch, vocabulary, anchor,
                                                           index)
        alone, alone_count = loop.loss_sum(model, batch, vocabulary)
        assert count == alone_count and loss.item() == pytest.approx(alone.item(), rel=1e-5)
        with torch.no_grad():
            logits = model(input_ids=anchor.windows[index]).logits[0, :-1]
        adapted = torch.log_softmax(logits, dim=-1).gather(1, anchor.top_ids[index])
        base_logprobs = anchor.top_logprobs[index]
        expected = (base_logprobs.exp() * (base_logprobs - adapted)).sum(dim=-1).mean()
        assert divergence.item() == pytest.approx(expected.item(), rel=1e-4, abs=1e-7)
        assert divergence.item() > 0


def test_a_step_with_the_anchor_learns_from_both_terms():
    """The step's update is the gradient of the batch loss plus the weighted divergence."""
    import copy

    from slmdesk.core.training.vocabulary import CandidateVocabulary

    base = _tiny_llama()
    vocabulary = CandidateVocabulary(64, range(64))
    anchor = loop.anchor_targets(base, [[1, 2, 3, 4, 5, 6]], top_k=8)
    model = copy.deepcopy(base)
    with torch.no_grad():
        for param in model.model.layers.parameters():
            param.add_(0.05 * torch.randn_like(param))
    trained = [p for p in model.parameters() if p.requires_grad]
    batches = [torch.tensor([[1, 5, 9, 13, 17]]), torch.tensor([[1, 6, 10]])]
    model.zero_grad()
    total = sum(loop.loss_sum(model, b, vocabulary)[0] for b in batches) / 6
    loss, _, divergence = loop.loss_and_divergence(model, batches[1], vocabulary, anchor, 0)
    grads = torch.autograd.grad(total + 0.5 * divergence, trained)
    before = [p.detach().clone() for p in trained]
    optimizer = torch.optim.SGD(trained, lr=1.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    loop.train_step(model, optimizer, scheduler, batches, 0.0, vocabulary=vocabulary,
                    anchor=anchor, anchor_weight=0.5, step=0)
    for param, old, grad in zip(trained, before, grads):
        assert torch.allclose(param.detach() - old, -grad, atol=1e-5)
