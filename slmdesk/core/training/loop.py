"""The training arithmetic: LoRA setup, the loss, one optimizer step, evaluation, checkpoints.

A plain PyTorch loop, shaped for a laptop CPU:

* Packed chunks, no padding, no attention mask: every token computed is a token learned from.
* The output layer is the biggest matrix of a small model (Gemma 3 270M: 262,144 x 640, 63% of
  its weights), and the logits of a 256-token chunk are 268 MB in fp32. :class:`LinearCrossEntropy`
  computes them a slice of rows at a time and turns each slice into its gradient on the spot
  (softmax minus one-hot, in place, with a single exponential pass), so the logits, their
  log-softmax and their gradient never coexist as autograd would keep them, and the backward pass
  through the output layer is one matrix product per slice. The frozen weight needs no gradient.
* Evaluation runs under ``torch.inference_mode`` with dropout off.
* Everything that decides the result (adapter and optimizer state, learning-rate schedule, RNG
  state and the step, which fixes the data order) goes into a checkpoint, so a resumed run ends
  with the same adapter as an uninterrupted one.

Imports torch: only the worker and the benchmark use this module.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import nn

from slmdesk.core.training.job import TrainingJob
from slmdesk.core.training.precision import training_autocast
from slmdesk.core.training.vocabulary import (
    HARVEST_TOP_K,
    CandidateVocabulary,
    candidate_logits,
    harvest_top_tokens,
)

#: Rows of logits computed at once: 2^26 floats (256 MB) whatever the vocabulary; 256 rows for
#: Gemma's 262k vocabulary, a whole chunk at the presets' lengths (measured: wider slices keep
#: the big matrix products efficient, ~20% faster than 128 rows on 2 cores).
LOGIT_SLICE_ELEMENTS = 1 << 26
CHECKPOINTS_DIR = "checkpoints"
_CHECKPOINT_NAME = re.compile(r"^step-(\d+)$")
_STATE_FILE = "state.json"


class LinearCrossEntropy(torch.autograd.Function):
    """Sum of token cross-entropies of ``hidden @ weight.T (+ bias)``, computed in slices."""

    @staticmethod
    def forward(ctx: Any, hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                targets: torch.Tensor, need_grad: bool) -> torch.Tensor:
        # Under bf16 autocast the slices' softmax must stay fp32 (and ``out=`` needs one dtype):
        # the output layer's products run in fp32 here whatever the step's dtype.
        with torch.autocast("cpu", enabled=False):
            return LinearCrossEntropy._forward(ctx, hidden.float(), weight, bias, targets,
                                               need_grad)

    @staticmethod
    def _forward(ctx: Any, hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                 targets: torch.Tensor, need_grad: bool) -> torch.Tensor:
        rows = max(1, LOGIT_SLICE_ELEMENTS // weight.shape[0])
        total = hidden.new_zeros(())
        grad = torch.empty_like(hidden) if need_grad else None
        for start in range(0, hidden.shape[0], rows):
            part = hidden[start:start + rows]
            want = targets[start:start + rows]
            index = torch.arange(part.shape[0])
            logits = part @ weight.T
            if bias is not None:
                logits += bias
            picked = logits[index, want]
            # One exp pass serves both the loss and the gradient (logsumexp and then softmax
            # would exponentiate 67M numbers twice): shift by the max, exp in place, sum.
            peak = logits.amax(dim=-1, keepdim=True)
            logits.sub_(peak).exp_()
            sums = logits.sum(dim=-1, keepdim=True)
            total += (peak.squeeze(1) + sums.log().squeeze(1) - picked).sum()
            if grad is not None:
                probs = logits.mul_(sums.reciprocal_())  # softmax, in place
                probs[index, want] -= 1.0
                torch.matmul(probs, weight, out=grad[start:start + rows])
        if grad is not None:
            ctx.save_for_backward(grad)
        return total

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor, None, None, None, None]:
        (grad,) = ctx.saved_tensors
        return grad * grad_output, None, None, None, None


def _decoder_and_head(model: nn.Module) -> tuple[nn.Module, nn.Linear] | None:
    """The body and output layer of a causal LM when the sliced loss applies to it, else None."""
    wrapped: Any = model  # PEFT's and transformers' methods are unknown to nn.Module
    base = wrapped.get_base_model() if hasattr(wrapped, "get_base_model") else wrapped
    body = getattr(base, getattr(base, "base_model_prefix", "model"), None)
    head = base.get_output_embeddings() if hasattr(base, "get_output_embeddings") else None
    config = getattr(base, "config", None)
    if (body is None or type(head) is not nn.Linear or head.weight.requires_grad
            or getattr(config, "final_logit_softcapping", None)
            or getattr(config, "logit_scale", None)):
        return None
    return body, head


def output_layer_rows(model: nn.Module) -> int | None:
    """The vocabulary size of the output layer when the candidate loss can use it, else None."""
    parts = _decoder_and_head(model)
    return None if parts is None else parts[1].weight.shape[0]


def loss_sum(model: nn.Module, input_ids: torch.Tensor,
             vocabulary: CandidateVocabulary | None = None) -> tuple[torch.Tensor, int]:
    """(sum of next-token losses, number of predicted tokens) for a batch of equal-length chunks;
    on the candidate ``vocabulary`` when given (training), else on the whole vocabulary."""
    targets = input_ids[:, 1:].reshape(-1)
    parts = _decoder_and_head(model)
    padded = bool((input_ids < 0).any())
    if padded:  # right padding (real tokens never see it) and input-only tokens: not learned
        keep = targets >= 0
        targets = targets[keep]
        input_ids = _model_ids(input_ids)
    if parts is not None and vocabulary is not None:
        body, head = parts
        hidden = _hidden(body, input_ids)
        if padded:
            hidden = hidden[keep]
        columns, correction = vocabulary.draw()
        with _fp32():
            logits = candidate_logits(hidden.float(), head.weight, head.bias, columns, correction)
        loss = nn.functional.cross_entropy(logits, vocabulary.positions(targets), reduction="sum")
        return loss, targets.numel()
    if parts is None:  # e.g. logit soft-capping: let the model compute its own logits
        logits = model(input_ids=input_ids, use_cache=False).logits[:, :-1]
        logits = logits.reshape(-1, logits.shape[-1])[keep] if padded else logits
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), targets,
                                           reduction="sum")
        return loss, targets.numel()
    body, head = parts
    hidden = _hidden(body, input_ids)
    if padded:
        hidden = hidden[keep]
    need_grad = torch.is_grad_enabled() and hidden.requires_grad
    loss = LinearCrossEntropy.apply(  # type: ignore[no-untyped-call]  # torch leaves it unannotated
        hidden, head.weight, head.bias, targets, need_grad)
    return loss, targets.numel()


def _fp32() -> Any:
    """The candidate output layer in fp32 even under bf16 autocast: a few thousand columns cost
    little, and logits rounded to bf16 (3 significant digits) blur the loss and, above all, the
    anchor's divergence from the base model (measured: forgetting 1.91x against 1.55x in fp32
    on a knowledge note with the logits in bf16)."""
    return torch.autocast("cpu", enabled=False)


def _model_ids(input_ids: torch.Tensor) -> torch.Tensor:
    """The token ids the model reads: padding as token 0 (never attended to: it sits to the
    right), input-only tokens (:func:`slmdesk.core.training.dataset.input_only`) as their own id."""
    return torch.where(input_ids >= 0, input_ids,
                       torch.where(input_ids == PAD, 0, -input_ids - 2))


def _hidden(body: nn.Module, input_ids: torch.Tensor) -> torch.Tensor:
    """The last hidden states that predict tokens 1..n of each chunk, one row per prediction."""
    hidden: torch.Tensor = body(input_ids=input_ids, use_cache=False).last_hidden_state[:, :-1]
    return hidden.reshape(-1, hidden.shape[-1])


def harvest_candidates(model: nn.Module, chunks: Sequence[Sequence[int]],
                       vocabulary: CandidateVocabulary, top_k: int = HARVEST_TOP_K) -> None:
    """Add the tokens of ``chunks`` and the model's ``top_k`` predictions at each of their
    positions to ``vocabulary`` (one forward pass on the whole vocabulary, no autograd)."""
    parts = _decoder_and_head(model)
    for chunk in chunks:
        vocabulary.add(chunk)
    if parts is None:
        return
    body, head = parts
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for chunk in chunks:
                hidden = _hidden(body, torch.tensor([list(chunk)], dtype=torch.long))
                rows = max(1, LOGIT_SLICE_ELEMENTS // head.weight.shape[0])
                for start in range(0, hidden.shape[0], rows):
                    logits = hidden[start:start + rows] @ head.weight.T
                    vocabulary.add(harvest_top_tokens(logits, top_k))
    finally:
        model.train(was_training)


@dataclass(frozen=True)
class AnchorTargets:
    """The base model's own predictions on a general text, to keep the adapter near them.

    ``windows`` are chunks of the anchor text; for each predicted position, ``top_ids`` are the
    base model's ``k`` most likely tokens and ``top_logprobs`` their log-probabilities on the
    whole vocabulary (their total is close to all the mass)."""

    windows: list[torch.Tensor]
    top_ids: list[torch.Tensor]
    top_logprobs: list[torch.Tensor]

    def __len__(self) -> int:
        return len(self.windows)


def anchor_targets(model: nn.Module, windows: Sequence[Sequence[int]], top_k: int = 32
                   ) -> AnchorTargets | None:
    """Record the model's predictions on ``windows`` (call before training: the base)."""
    parts = _decoder_and_head(model)
    if parts is None or not windows:
        return None
    body, head = parts
    was_training = model.training
    model.eval()
    tensors, ids, logprobs = [], [], []
    try:
        with torch.inference_mode():
            for window in windows:
                tensor = torch.tensor([list(window)], dtype=torch.long)
                logits = _hidden(body, tensor) @ head.weight.T
                if head.bias is not None:
                    logits += head.bias
                top = torch.topk(torch.log_softmax(logits, dim=-1), top_k, dim=-1)
                tensors.append(tensor)
                ids.append(top.indices.clone())
                logprobs.append(top.values.clone())
    finally:
        model.train(was_training)
    return AnchorTargets(tensors, ids, logprobs)


def loss_and_divergence(model: nn.Module, input_ids: torch.Tensor,
                        vocabulary: CandidateVocabulary, anchor: AnchorTargets, index: int
                        ) -> tuple[torch.Tensor, int, torch.Tensor]:
    """(sum of next-token losses, tokens learned, anchor divergence) for a training batch and
    anchor window ``index`` in *one* forward pass, the window as one more right-padded row.

    The divergence is the mean over the window's positions of KL(base || adapted) on the base
    model's top tokens (which must be in ``vocabulary``), the adapted model's normaliser
    estimated on the candidate vocabulary. On short question-and-answer batches a pass costs
    about as much whatever its few dozen tokens (measured on the starter on 2 cores: 0.7 s for
    one 52-token chunk, 0.7 s for the 48-token window alone), so a pass of its own for the
    window made every step ~40% slower; a row in the batch's pass costs only its tokens.
    """
    parts = _decoder_and_head(model)
    assert parts is not None  # the anchor exists only for a plain output layer
    body, head = parts
    slot = index % len(anchor)
    window, top_ids, top_logprobs = anchor.windows[slot], anchor.top_ids[slot], anchor.top_logprobs[slot]
    width = max(input_ids.shape[1], window.shape[1])
    rows = nn.functional.pad(input_ids, (0, width - input_ids.shape[1]), value=PAD)
    targets = rows[:, 1:].reshape(-1)
    keep = targets >= 0
    together = torch.cat([rows, nn.functional.pad(window, (0, width - window.shape[1]), value=PAD)])
    hidden = body(input_ids=_model_ids(together), use_cache=False).last_hidden_state[:, :-1]
    learned = hidden[:-1].reshape(-1, hidden.shape[-1])[keep]
    anchored = hidden[-1, :window.shape[1] - 1]
    columns, correction = vocabulary.draw()
    with _fp32():
        logits = candidate_logits(torch.cat([learned, anchored]).float(), head.weight, head.bias,
                                  columns, correction)
    count = learned.shape[0]
    loss = nn.functional.cross_entropy(logits[:count], vocabulary.positions(targets[keep]),
                                       reduction="sum")
    adapted = torch.log_softmax(logits[count:], dim=-1).gather(1, vocabulary.positions(top_ids))
    divergence = (top_logprobs.exp() * (top_logprobs - adapted)).sum(dim=-1).mean()
    return loss, count, divergence


#: Marks a padding position in a micro-batch: never attended to by a real token (padding sits
#: to the right, and attention is causal) and never trained on. Ids below it are input-only
#: tokens (slmdesk.core.training.dataset.input_only): read, not learned.
PAD = -1


def micro_batches(chunks: Sequence[Sequence[int]], batch_size: int,
                  token_budget: int | None = None) -> list[torch.Tensor]:
    """The chunks of one step as forward passes.

    Without ``token_budget``: tensors of equal-length chunks, at most ``batch_size`` each (no
    padding). With it: the chunks sorted by length and laid side by side while rows x longest
    fits the budget, shorter ones right-padded with :data:`PAD`, so that many short
    question-and-answer examples share one forward pass (a dozen 50-token forward passes cost
    several times one 600-token pass on a CPU) and the padding stays small.
    """
    if token_budget is None:
        batches: list[torch.Tensor] = []
        for start in range(0, len(chunks), batch_size):
            group = chunks[start:start + batch_size]
            by_length: dict[int, list[Sequence[int]]] = {}
            for chunk in group:
                by_length.setdefault(len(chunk), []).append(chunk)
            batches.extend(torch.tensor(same, dtype=torch.long) for same in by_length.values())
        return batches
    groups: list[list[Sequence[int]]] = []
    for chunk in sorted(chunks, key=len, reverse=True):
        if groups and (len(groups[-1]) + 1) * len(groups[-1][0]) <= token_budget:
            groups[-1].append(chunk)
        else:
            groups.append([chunk])
    return [torch.tensor([list(c) + [PAD] * (len(group[0]) - len(c)) for c in group],
                         dtype=torch.long) for group in groups]


def add_lora(model: nn.Module, job: TrainingJob) -> nn.Module:
    """Wrap ``model`` in a PEFT LoRA model, initialised from ``job.seed``."""
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(job.seed)
    # peft annotates lora_alpha as int, but only ever divides by it: a float alpha works as such
    config = LoraConfig(r=job.lora_rank, lora_alpha=job.lora_alpha,  # type: ignore[arg-type]
                        lora_dropout=job.lora_dropout,
                        target_modules=job.target_modules, bias="none", task_type="CAUSAL_LM")
    peft_model = get_peft_model(model, config)
    peft_model.config.use_cache = False
    return peft_model


def trainable_parameters(model: nn.Module) -> list[tuple[str, nn.Parameter]]:
    return [(name, param) for name, param in model.named_parameters() if param.requires_grad]


def make_optimizer(model: nn.Module, job: TrainingJob, total_steps: int
                   ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    params = [param for _, param in trainable_parameters(model)]
    optimizer = torch.optim.AdamW(params, lr=job.learning_rate, weight_decay=job.weight_decay)
    warmup = job.warmup_steps
    decay_steps = max(1, total_steps - warmup)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)
        progress = min(1.0, (step - warmup) / decay_steps)
        if job.lr_schedule == "linear":
            return 1.0 - progress
        if job.lr_schedule == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        return 1.0

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer,
               scheduler: torch.optim.lr_scheduler.LambdaLR, batches: Sequence[torch.Tensor],
               max_grad_norm: float, should_stop: Callable[[], bool] = lambda: False, *,
               vocabulary: CandidateVocabulary | None = None,
               anchor: AnchorTargets | None = None, anchor_weight: float = 0.0,
               step: int = 0, dtype: str = "fp32") -> tuple[float, int] | None:
    """One optimizer step over ``batches``; (mean loss, tokens), or None when stopped midway
    (the gradients are then dropped and the weights left as they were). With an ``anchor``, the
    step also pulls the model's predictions on one anchor window towards the base model's.
    ``dtype`` "bf16" runs the forward passes under bf16 autocast
    (:mod:`slmdesk.core.training.precision`); the adapter and optimizer stay fp32."""
    targets = sum(int((batch[:, 1:] >= 0).sum()) for batch in batches)
    tokens = sum(int((batch[:, 1:] != PAD).sum()) for batch in batches)  # read, learned or not
    total = 0.0
    # the anchor window rides along with the narrowest batch (padding it costs least)
    anchored = (None if anchor is None or anchor_weight <= 0 or vocabulary is None
                or not len(anchor) or _decoder_and_head(model) is None
                else min(range(len(batches)), key=lambda i: batches[i].shape[1]))
    for index, batch in enumerate(batches):
        # (torch leaves Tensor.backward unannotated)
        if index == anchored:
            assert vocabulary is not None and anchor is not None  # both are needed for an anchor
            with training_autocast(dtype):
                loss, _, divergence = loss_and_divergence(model, batch, vocabulary, anchor, step)
                objective = loss / max(targets, 1) + anchor_weight * divergence
        else:
            with training_autocast(dtype):
                loss, _ = loss_sum(model, batch, vocabulary)
                objective = loss / max(targets, 1)
        objective.backward()  # type: ignore[no-untyped-call]
        total += loss.item()
        if should_stop():
            optimizer.zero_grad(set_to_none=True)
            return None
    if max_grad_norm > 0:
        torch.nn.utils.clip_grad_norm_([p for p in optimizer.param_groups[0]["params"]],
                                       max_grad_norm)
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return total / max(targets, 1), tokens


def evaluate(model: nn.Module, chunks: Sequence[Sequence[int]], batch_size: int = 1
             ) -> tuple[float, int]:
    """(mean next-token loss, tokens) over ``chunks``, dropout off, no autograd."""
    was_training = model.training
    model.eval()
    total, tokens = 0.0, 0
    try:
        with torch.inference_mode():
            for batch in micro_batches(chunks, batch_size):
                loss, count = loss_sum(model, batch)
                total += loss.item()
                tokens += count
    finally:
        model.train(was_training)
    return (total / tokens if tokens else float("nan")), tokens


def perplexity(loss: float) -> float:
    return math.exp(loss) if loss < 700 else float("inf")


# -- checkpoints -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Checkpoint:
    path: Path
    step: int
    state: dict[str, Any]


def latest_checkpoint(run_dir: Path) -> Checkpoint | None:
    """The complete checkpoint with the highest step (a torn one never has its final name)."""
    folder = Path(run_dir) / CHECKPOINTS_DIR
    best: Checkpoint | None = None
    if not folder.is_dir():
        return None
    for entry in folder.iterdir():
        match = _CHECKPOINT_NAME.match(entry.name)
        if not match or not (entry / _STATE_FILE).is_file():
            continue
        step = int(match.group(1))
        if best is None or step > best.step:
            state = json.loads((entry / _STATE_FILE).read_text(encoding="utf-8"))
            best = Checkpoint(entry, step, state)
    return best


def save_checkpoint(run_dir: Path, step: int, model: nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: Any, rng_state: torch.Tensor, state: dict[str, Any],
                    keep: int = 1) -> Path:
    """Write checkpoint ``step`` into a temporary folder, rename it into place, then drop older
    ones (keeping ``keep``). A kill at any moment leaves the previous checkpoint intact."""
    from safetensors.torch import save_file

    folder = Path(run_dir) / CHECKPOINTS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"step-{step:08d}"
    tmp = folder / f".tmp-step-{step:08d}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_file({name: param.detach().contiguous() for name, param in trainable_parameters(model)},
              str(tmp / "adapter.safetensors"))
    torch.save({"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "rng": rng_state}, tmp / "trainer.pt")
    (tmp / _STATE_FILE).write_text(json.dumps({**state, "step": step}, indent=2), encoding="utf-8")
    _fsync_tree(tmp)
    if final.exists():  # the same step saved again (a resume that stopped at once): replace it
        old = folder / f".old-step-{step:08d}-{os.getpid()}"
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)
    checkpoints = sorted((int(m.group(1)), entry) for entry in folder.iterdir()
                         if (m := _CHECKPOINT_NAME.match(entry.name)))
    for _, entry in checkpoints[:-keep]:
        shutil.rmtree(entry, ignore_errors=True)
    for entry in folder.iterdir():  # leftovers of a worker killed while saving
        if entry.name.startswith((".tmp-", ".old-")) and entry != tmp:
            shutil.rmtree(entry, ignore_errors=True)
    return final


def load_checkpoint(checkpoint: Checkpoint, model: nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: Any) -> None:
    """Restore adapter weights, optimizer, schedule and the RNG from ``checkpoint``."""
    from safetensors.torch import load_file

    weights = load_file(str(checkpoint.path / "adapter.safetensors"))
    params = dict(trainable_parameters(model))
    missing = set(params) - set(weights)
    if missing:
        raise ValueError(f"the checkpoint lacks {len(missing)} adapter tensors "
                         f"(e.g. {sorted(missing)[0]}); was the job changed?")
    with torch.no_grad():
        for name, param in params.items():
            param.copy_(weights[name])
    trainer = torch.load(checkpoint.path / "trainer.pt", weights_only=True)
    optimizer.load_state_dict(trainer["optimizer"])
    scheduler.load_state_dict(trainer["scheduler"])
    torch.set_rng_state(trainer["rng"])


def _fsync_tree(folder: Path) -> None:
    for entry in folder.iterdir():
        with open(entry, "rb") as handle:
            os.fsync(handle.fileno())
