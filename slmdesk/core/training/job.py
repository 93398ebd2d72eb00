"""A fine-tuning job: what to train, on what, and how; saved as a JSON file.

A :class:`TrainingJob` is everything the training worker needs, so a job written on a laptop can
be carried to a bigger machine and run there with the same command. The three presets come from
measured runs on the starter model (bench/train_bench.py, bench/knowledge_bench.py; figures in
the README): a small model learns the facts of a one-page note when LoRA covers every linear layer at rank 16 with a high
learning rate (1e-3) and enough passes (40) to memorise it. Presets differ mostly in how much
text they will work through (``max_train_tokens``), which bounds their time on any input.

This module is plain Python (no torch): the window and the command line use it to validate a job
and to estimate its time and memory before anything heavy starts.
"""

from __future__ import annotations

import json
import math
import os
import random
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Sequence

from slmdesk.core.errors import SlmdeskError
from slmdesk.core.gguf.info import ModelInfo, format_bytes
from slmdesk.core.training.precision import DTYPES, PrecisionChoice
from slmdesk.core.training.quiz_overlap import QUIZ_OVERLAP

JOB_FILE = "job.json"
JOB_VERSION = 1
#: At most this many quiz questions about held-back sentences (``slmdesk.core.knowledge``: four
#: sentences, two questions each; not imported, to keep the job module light).
HELD_BACK_QUESTIONS = 8
SCHEDULES = ("constant", "linear", "cosine")

#: Effective training throughput of our loop per CPU thread, in FLOP/s, measured on the starter
#: (bench/train_bench.py: ~70 tokens/s at 268M parameters on 2 threads, ~1.07 GFLOP per token;
#: bench/knowledge_bench.py measured 70-85).
EFFECTIVE_FLOPS_PER_THREAD = 40e9
#: Forward-only evaluation costs about half of a training token (no input-gradient pass).
EVAL_COST_RATIO = 0.5
#: Seconds to load the base model: converting the GGUF the first time, from the cache after.
FIRST_LOAD_SECONDS_PER_GB = 250.0
CACHED_LOAD_SECONDS = 15.0
#: Output-layer rows in the candidate vocabulary: the text's tokens, the base model's likely
#: ones and the fresh sample (vocabulary.SAMPLED_COLUMNS); a few thousand on a note.
CANDIDATE_COLUMNS = 5000
#: With the output layer small, the body's smaller matrix products and the short, padded
#: question-and-answer chunks run at a lower share of the machine's peak (measured on the
#: starter: ~110 tokens/s where the FLOP count alone predicts ~190).
CANDIDATE_LOOP_EFFICIENCY = 0.6
#: Tokens of the chat turn markers around a question and its answer (Gemma: ~12).
CHAT_MARKER_TOKENS = 12
#: The general page measured before and after (resources/general_eval.txt), in tokens.
GENERAL_EVAL_TOKENS = 260
#: Anchor text trained per step when the anchor term is on (general_text.ANCHOR_WINDOW_TOKENS).
ANCHOR_TOKENS_PER_STEP = 48
#: Fixed cost of an optimizer step (AdamW on the adapter, Python): measurable on short examples.
STEP_OVERHEAD_SECONDS = 0.03
#: One quiz question asked in chat (a short greedy answer) and starting the engine for a quiz.
QUIZ_SECONDS_PER_QUESTION = 1.0
QUIZ_START_SECONDS = 3.0
#: Python, torch and transformers themselves, measured as the worker's resident size at start.
RUNTIME_BYTES = 700 * 1024**2


class JobError(SlmdeskError, ValueError):
    """A job that cannot run; ``problems`` lists every reason in plain words."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("The training job has problems:\n" + "\n".join(f"- {p}" for p in problems))
        self.problems = problems


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass
class TrainingJob:
    """One fine-tuning job (the JSON file ``job.json`` of a run)."""

    base_model_path: str = field(metadata=_help("The base model GGUF file to adapt."))
    documents: list[str] = field(default_factory=list, metadata=_help(
        "Files or folders to learn from (txt, md, pdf, docx, html)."))
    base_model_id: int | None = field(default=None, metadata=_help(
        "The base model's id in the library, when it is there."))
    name: str = field(default="", metadata=_help("A name for the adapter (default: from the documents)."))
    preset: str = field(default="custom", metadata=_help("The preset this job started from."))
    lora_rank: int = field(default=16, metadata=_help("LoRA rank r: capacity of the adapter."))
    lora_alpha: float = field(default=32.0, metadata=_help("LoRA alpha: the update is scaled by alpha / r."))
    lora_dropout: float = field(default=0.0, metadata=_help("Dropout on the LoRA input, 0 to 1."))
    target_modules: list[str] | str = field(default="all-linear", metadata=_help(
        "Layers to adapt: \"all-linear\" or a list of module names (q_proj, v_proj, ...)."))
    learning_rate: float = field(default=1e-3, metadata=_help("Peak learning rate of AdamW."))
    lr_schedule: str = field(default="cosine", metadata=_help(
        "How the learning rate changes after warm-up: constant, linear or cosine (to zero)."))
    warmup_steps: int = field(default=0, metadata=_help("Steps of linear warm-up from zero."))
    weight_decay: float = field(default=0.0, metadata=_help("AdamW weight decay."))
    max_grad_norm: float = field(default=1.0, metadata=_help("Clip the gradient norm (0: never)."))
    epochs: int = field(default=40, metadata=_help("Passes over the training text."))
    max_steps: int | None = field(default=None, metadata=_help(
        "Stop after this many optimizer steps, whatever the epochs (overrides epochs)."))
    max_train_tokens: int | None = field(default=None, metadata=_help(
        "Stop once this many tokens were trained on: bounds the time on large document sets."))
    min_train_tokens: int | None = field(default=None, metadata=_help(
        "Train on at least this many tokens, with more passes over a short text: a few "
        "sentences need as many learning steps as a page."))
    sequence_length: int = field(default=256, metadata=_help("Tokens per training chunk."))
    overlap: int = field(default=32, metadata=_help("Tokens shared by consecutive chunks of a document."))
    batch_size: int = field(default=1, metadata=_help("Chunks per forward pass."))
    gradient_accumulation: int = field(default=1, metadata=_help("Forward passes per optimizer step."))
    validation_fraction: float = field(default=0.1, metadata=_help(
        "Share of the text held back to measure validation loss (0: none). Short texts hold "
        "nothing back and report the loss on the training text instead."))
    eval_every: int = field(default=0, metadata=_help(
        "Measure validation loss every N steps (0: only before and after)."))
    seed: int = field(default=0, metadata=_help("Random seed: same job, same seed, same adapter."))
    threads: int = field(default=0, metadata=_help("CPU threads for training (0: all cores)."))
    checkpoint_every: int = field(default=25, metadata=_help(
        "Save a resumable checkpoint every N steps (0: only on cancel and at the end)."))
    knowledge_augmentation: bool = field(default=True, metadata=_help(
        "Also train on questions and answers made from the documents' sentences, so the model "
        "can answer questions about them in chat, not only continue their text."))
    candidate_vocabulary: bool = field(default=True, metadata=_help(
        "Compute the training loss on the tokens that matter (those of the text, the base "
        "model's likely ones and a fresh sample of the rest) instead of the whole vocabulary: "
        "about 2.4 times faster on small models; reported losses always use the whole vocabulary."))
    anchor_weight: float = field(default=0.0, metadata=_help(
        "Weight of a term that keeps the model's predictions on a general text close to the "
        "base model's (0: off); it protects the model's general writing from being overwritten."))
    model_questions: int = field(default=0, metadata=_help(
        "Questions the base model itself writes about each passage before training (0: none). "
        "Only for instruction-tuned models (with a chat template); adds a few seconds a passage."))
    dtype: str = field(default="auto", metadata=_help(
        "Arithmetic of the training steps: auto (bf16 where a short measurement at the start "
        "shows it faster on this processor, else fp32), fp32 or bf16."))
    quiz_questions: int = field(default=12, metadata=_help(
        "Questions about the documents asked in chat before and after training (0: no quiz)."))
    quiz_held_back: bool = field(default=False, metadata=_help(
        "Give a few sentences no training questions and ask the quiz about them too. Off by "
        "default: it cost 2 and 4 of 10 answers on two bench notes (README, the honest quiz), "
        "and the estimate from the remembering score predicts people's questions as well."))
    quiz_overlap: str = field(default="auto", metadata=_help(
        "Ask the quiz before training while the training loads: auto (where measured to pay, "
        "see slmdesk.core.training.quiz_overlap), on or off. The answers are the same."))
    version: int = field(default=JOB_VERSION, metadata=_help("Job file format version."))

    @property
    def holds_back(self) -> bool:
        """Whether sentences are held back for the quiz: only with a quiz to ask about them and
        questions made from the sentences to hold back."""
        return bool(self.quiz_held_back and self.quiz_questions and self.knowledge_augmentation)

    # -- files -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainingJob":
        """Build from a dict; unknown or missing keys raise :class:`JobError` naming them."""
        if not isinstance(data, dict):
            raise JobError(["The job file must hold a JSON object."])
        known = {f.name for f in fields(cls)}
        problems = [f"Unknown setting \u201c{key}\u201d." for key in data if key not in known]
        for required in ("base_model_path",):
            if required not in data:
                problems.append(f"The setting \u201c{required}\u201d is missing.")
        if problems:
            raise JobError(problems)
        return cls(**data)

    def save(self, path: Path) -> Path:
        """Write atomically (temporary file + rename)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: Path) -> "TrainingJob":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise JobError([f"The job file {path} does not exist."]) from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise JobError([f"The job file {path} cannot be read: {exc}"]) from None
        return cls.from_dict(data)

    # -- checks ------------------------------------------------------------------------------

    def problems(self, *, check_files: bool = True) -> list[str]:
        """Every reason this job cannot run, in plain words; empty when it is fine."""
        out: list[str] = []

        def number(name: str, kind: type, low: float | None = None, high: float | None = None,
                   *, optional: bool = False, low_open: bool = False) -> None:
            value = getattr(self, name)
            if value is None and optional:
                return
            ok_type = isinstance(value, (int, float)) and not isinstance(value, bool)
            if kind is int:
                ok_type = isinstance(value, int) and not isinstance(value, bool)
            if not ok_type:
                out.append(f"{name} must be a {'whole number' if kind is int else 'number'} "
                           f"(it is {value!r}).")
                return
            if low is not None and (value <= low if low_open else value < low):
                out.append(f"{name} must be {'more than' if low_open else 'at least'} {low:g} "
                           f"(it is {value:g}).")
            elif high is not None and value > high:
                out.append(f"{name} must be at most {high:g} (it is {value:g}).")

        number("lora_rank", int, 1, 1024)
        number("lora_alpha", float, 0, low_open=True)
        number("lora_dropout", float, 0, 0.9)
        number("learning_rate", float, 0, 1, low_open=True)
        number("warmup_steps", int, 0)
        number("weight_decay", float, 0, 1)
        number("max_grad_norm", float, 0)
        number("epochs", int, 1, 10000)
        number("max_steps", int, 1, optional=True)
        number("max_train_tokens", int, 1, optional=True)
        number("min_train_tokens", int, 0, optional=True)
        number("sequence_length", int, 16, 32768)
        number("overlap", int, 0)
        number("batch_size", int, 1, 256)
        number("gradient_accumulation", int, 1, 1024)
        number("validation_fraction", float, 0, 0.5)
        number("eval_every", int, 0)
        number("seed", int, 0)
        number("threads", int, 0, 1024)
        number("checkpoint_every", int, 0)
        number("anchor_weight", float, 0, 100)
        number("quiz_questions", int, 0, 100)
        number("model_questions", int, 0, 10)
        for flag in ("knowledge_augmentation", "candidate_vocabulary", "quiz_held_back"):
            if not isinstance(getattr(self, flag), bool):
                out.append(f"{flag} must be true or false (it is {getattr(self, flag)!r}).")
        if (isinstance(self.overlap, int) and isinstance(self.sequence_length, int)
                and self.overlap >= self.sequence_length // 2):
            out.append(f"overlap ({self.overlap}) must be less than half the sequence length "
                       f"({self.sequence_length}).")
        if self.dtype not in DTYPES:
            out.append(f"dtype must be one of {', '.join(DTYPES)} (it is {self.dtype!r}).")
        if self.quiz_overlap not in QUIZ_OVERLAP:
            out.append(f"quiz_overlap must be one of {', '.join(QUIZ_OVERLAP)} "
                       f"(it is {self.quiz_overlap!r}).")
        if self.lr_schedule not in SCHEDULES:
            out.append(f"lr_schedule must be one of {', '.join(SCHEDULES)} (it is {self.lr_schedule!r}).")
        targets = self.target_modules
        if not (targets == "all-linear" or (isinstance(targets, list) and targets
                                            and all(isinstance(t, str) and t for t in targets))):
            out.append("target_modules must be \"all-linear\" or a list of layer names.")
        # Documents that cannot be read are skipped with their reason when the text is collected
        # (slmdesk.core.documents.collect); only a job with none at all is refused here.
        if (not isinstance(self.documents, list) or not self.documents
                or not all(isinstance(doc, str) and doc for doc in self.documents)):
            out.append("No documents: give at least one file or folder to learn from.")
        if not self.base_model_path:
            out.append("No base model: choose the model to adapt.")
        elif check_files and not Path(self.base_model_path).expanduser().is_file():
            out.append(f"The base model file {self.base_model_path} does not exist.")
        if self.version != JOB_VERSION:
            out.append(f"This job file is version {self.version}; this SLM Desk reads version "
                       f"{JOB_VERSION}.")
        return out

    def validate(self, *, check_files: bool = True) -> "TrainingJob":
        """Raise :class:`JobError` listing every problem; return self when there is none."""
        problems = self.problems(check_files=check_files)
        if problems:
            raise JobError(problems)
        return self

    @property
    def resolved_threads(self) -> int:
        """The job's threads, else one per physical core: a hyper-thread shares its core's
        vector units, so a second thread on it only contends (the engine does the same)."""
        return self.threads or physical_cores()

    @property
    def chunks_per_step(self) -> int:
        return self.batch_size * self.gradient_accumulation


def physical_cores() -> int:
    """Physical cores of this machine (logical CPUs when psutil cannot tell)."""
    import psutil

    return max(1, psutil.cpu_count(logical=False) or os.cpu_count() or 1)


# -- presets -----------------------------------------------------------------------------------

#: The recipe the presets share, measured on the starter (bench/knowledge_bench.py, README): every linear layer at
#: rank 16, a high constant learning rate, the documents' text plus the questions and answers made
#: from it, and the anchor term that keeps the model's general writing (bench/knowledge_bench.py).
_PRESET_BASE: dict[str, Any] = dict(
    lora_rank=16, lora_alpha=32.0, lora_dropout=0.0, target_modules="all-linear",
    learning_rate=1e-3, lr_schedule="constant", warmup_steps=0, sequence_length=256, overlap=32,
    batch_size=1, gradient_accumulation=4, validation_fraction=0.1,
    knowledge_augmentation=True, anchor_weight=1.5)

PRESETS: dict[str, dict[str, Any]] = {
    # A page or two of notes in a few minutes on 2 cores.
    "quick": {**_PRESET_BASE, "epochs": 5, "max_train_tokens": 18_000,
              "min_train_tokens": 10_000, "checkpoint_every": 10},
    # The default: the same recipe with twice the passes, so that a one-page note is answered
    # in chat (about 6 minutes on 2 cores); longer documents are bounded by the token budget.
    "balanced": {**_PRESET_BASE, "epochs": 10, "max_train_tokens": 27_000,
                 "min_train_tokens": 20_000, "checkpoint_every": 20},
    # Larger sets of documents: more capacity (rank 32), longer chunks, a gentler cosine
    # schedule and a budget of about an hour (no minimum: a large set is long enough).
    "thorough": {**_PRESET_BASE, "lora_rank": 32, "lora_alpha": 64.0, "lora_dropout": 0.05,
                 "learning_rate": 5e-4, "lr_schedule": "cosine", "warmup_steps": 5,
                 "epochs": 20, "max_train_tokens": 400_000, "sequence_length": 512,
                 "overlap": 64, "gradient_accumulation": 8, "checkpoint_every": 25,
                 "anchor_weight": 1.0},
}


def job_from_preset(preset: str, base_model_path: str | Path, documents: Sequence[str | Path],
                    **overrides: Any) -> TrainingJob:
    """A job with the settings of ``preset`` (quick, balanced, thorough), then ``overrides``."""
    key = preset.lower()
    if key not in PRESETS:
        raise JobError([f"Unknown preset \u201c{preset}\u201d; choose one of {', '.join(PRESETS)}."])
    job = TrainingJob(base_model_path=str(base_model_path),
                      documents=[str(doc) for doc in documents], preset=key, **PRESETS[key])
    return replace(job, **overrides) if overrides else job


# -- the plan: steps and data order, shared by the worker and the estimates ---------------------

@dataclass(frozen=True)
class TrainingPlan:
    """How many optimizer steps a job takes on a given dataset."""

    train_chunks: int
    steps_per_epoch: int
    total_steps: int
    train_tokens: int

    @property
    def epochs(self) -> float:
        return self.total_steps / self.steps_per_epoch if self.steps_per_epoch else 0.0


def plan_training(job: TrainingJob, train_chunk_lengths: Sequence[int]) -> TrainingPlan:
    """Steps per epoch and in total for chunks of these token lengths."""
    n = len(train_chunk_lengths)
    if n == 0:
        return TrainingPlan(0, 0, 0, 0)
    per_step = job.chunks_per_step
    steps_per_epoch = math.ceil(n / per_step)
    total = job.epochs * steps_per_epoch
    if job.max_steps is not None:
        total = job.max_steps
    tokens_per_step = sum(train_chunk_lengths) / steps_per_epoch
    if job.min_train_tokens and job.max_steps is None:
        total = max(total, math.ceil(job.min_train_tokens / tokens_per_step))
    if job.max_train_tokens is not None:
        total = min(total, max(1, math.ceil(job.max_train_tokens / tokens_per_step)))
    return TrainingPlan(n, steps_per_epoch, total, round(total * tokens_per_step))


def chunk_order(count: int, seed: int, epoch: int) -> list[int]:
    """The order of the training chunks in one epoch: a fixed function of seed and epoch, so a
    resumed run sees the same data in the same order as an uninterrupted one."""
    order = list(range(count))
    random.Random(seed * 1_000_003 + epoch).shuffle(order)
    return order


def step_chunks(plan: TrainingPlan, job: TrainingJob, step: int) -> list[int]:
    """Indices (into the training chunks) used by optimizer step ``step`` (0-based)."""
    epoch, within = divmod(step, plan.steps_per_epoch)
    order = chunk_order(plan.train_chunks, job.seed, epoch)
    per_step = job.chunks_per_step
    return order[within * per_step:(within + 1) * per_step]


# -- estimates ---------------------------------------------------------------------------------

def lora_parameter_count(info: ModelInfo, job: TrainingJob) -> int:
    """Trainable parameters of the adapter, from the model's shapes."""
    arch = info.architecture
    hidden = info.embedding_length or 0
    heads, kv_heads = info.head_count or 0, info.head_count_kv or info.head_count or 0
    head_dim = info.key_length or (hidden // heads if heads else 0)
    ff = int(info.metadata.get(f"{arch}.feed_forward_length") or 4 * hidden)
    shapes = {"q_proj": (hidden, heads * head_dim), "k_proj": (hidden, kv_heads * head_dim),
              "v_proj": (hidden, kv_heads * head_dim), "o_proj": (heads * head_dim, hidden),
              "gate_proj": (hidden, ff), "up_proj": (hidden, ff), "down_proj": (ff, hidden)}
    wanted = shapes if job.target_modules == "all-linear" else {
        name: shape for name, shape in shapes.items() if name in job.target_modules}
    per_layer = sum(job.lora_rank * (i + o) for i, o in wanted.values())
    return per_layer * (info.block_count or 0)


@dataclass(frozen=True)
class TrainingEstimate:
    """Time and peak memory of a job before it starts (rough: within a factor of about 1.5)."""

    plan: TrainingPlan
    tokens_per_second: float
    train_seconds: float
    eval_seconds: float
    load_seconds: float
    peak_memory_bytes: int
    trainable_parameters: int

    @property
    def total_seconds(self) -> float:
        return self.train_seconds + self.eval_seconds + self.load_seconds

    def summary(self) -> str:
        from slmdesk.core.training.events import format_duration

        return (f"{self.plan.total_steps} steps over {self.plan.train_tokens:,} tokens "
                f"({self.plan.epochs:.1f} epochs), about {format_duration(self.total_seconds)} "
                f"at ~{self.tokens_per_second:.0f} tokens/s, peak memory about "
                f"{format_bytes(self.peak_memory_bytes)}.")


def tokens_per_second(parameter_count: int, threads: int) -> float:
    """Expected training speed: ~4 FLOPs per base parameter per token (forward plus the
    input-gradient pass; the frozen base needs no weight gradients)."""
    flops_per_token = 4.0 * max(parameter_count, 1)
    return EFFECTIVE_FLOPS_PER_THREAD * max(threads, 1) / flops_per_token


def trained_parameter_count(info: ModelInfo, job: TrainingJob) -> int:
    """The parameters a training token passes through: with the candidate vocabulary, the
    output layer counts only its candidate rows (see :mod:`slmdesk.core.training.vocabulary`)."""
    count = info.parameter_count
    vocab, width = info.vocab_size or 0, info.embedding_length or 0
    if job.candidate_vocabulary and vocab > CANDIDATE_COLUMNS and width:
        count = max(1, count - vocab * width + CANDIDATE_COLUMNS * width)
    return count


def example_chunk_lengths(job: TrainingJob, example_characters: Sequence[int]) -> list[int]:
    """Token lengths of generated question-and-answer examples, before tokenizing: ~4
    characters a token plus the chat format's turn markers, one chunk each."""
    if not job.knowledge_augmentation:
        return []
    return [min(job.sequence_length, 1 + CHAT_MARKER_TOKENS + max(1, chars // 4))
            for chars in example_characters]


def estimate_training(job: TrainingJob, info: ModelInfo, *, train_chunk_lengths: Sequence[int],
                      validation_tokens: int = 0, cached: bool = False,
                      precision: PrecisionChoice | None = None) -> TrainingEstimate:
    """Time and memory for ``job`` on a dataset (see :func:`approximate_chunk_lengths`).

    ``precision``: what the run is expected to train in, from the last probe on this machine
    (:func:`slmdesk.core.training.precision.expected_choice`); its measured bf16 speed-up
    scales the training steps (the evaluations and the quiz stay fp32)."""
    plan = plan_training(job, train_chunk_lengths)
    speed = tokens_per_second(trained_parameter_count(info, job), job.resolved_threads)
    if job.candidate_vocabulary:
        speed *= CANDIDATE_LOOP_EFFICIENCY
    if precision is not None:
        speed *= precision.speed_factor
    full_speed = tokens_per_second(info.parameter_count, job.resolved_threads)
    text_tokens = validation_tokens or sum(length for length in train_chunk_lengths
                                           if length > job.sequence_length // 2) or 256
    # Before and after: validation text and the general page, on the whole vocabulary; the
    # harvest of the base model's likely tokens is one more such pass over the text.
    eval_tokens = 2 * (text_tokens + GENERAL_EVAL_TOKENS)
    if job.eval_every:
        eval_tokens += (plan.total_steps // job.eval_every) * (validation_tokens or 0)
    if job.candidate_vocabulary:
        eval_tokens += text_tokens
    anchor_tokens = plan.total_steps * ANCHOR_TOKENS_PER_STEP if job.anchor_weight > 0 else 0
    # the questions about held-back sentences come on top of the quiz's count (at most)
    asked = job.quiz_questions + (HELD_BACK_QUESTIONS if job.holds_back else 0)
    quiz = 2 * asked * QUIZ_SECONDS_PER_QUESTION + (
        2 * QUIZ_START_SECONDS if job.quiz_questions else 0)
    weights_gb = info.parameter_count * 4 / 1e9
    load = CACHED_LOAD_SECONDS if cached else CACHED_LOAD_SECONDS + FIRST_LOAD_SECONDS_PER_GB * weights_gb * 0.3
    return TrainingEstimate(
        plan=plan, tokens_per_second=speed,
        train_seconds=(plan.train_tokens + anchor_tokens) / speed + plan.total_steps * STEP_OVERHEAD_SECONDS,
        eval_seconds=eval_tokens * EVAL_COST_RATIO / full_speed + quiz, load_seconds=load,
        peak_memory_bytes=estimate_peak_memory(job, info, cached=cached),
        trainable_parameters=lora_parameter_count(info, job))


def estimate_peak_memory(job: TrainingJob, info: ModelInfo, *, cached: bool = False) -> int:
    """Resident memory at the worst moment: fp32 weights, adapter and optimizer state,
    activations kept for the backward pass, and the logits of one slice of the output layer."""
    weights = info.parameter_count * 4
    lora = lora_parameter_count(info, job) * 4 * 4  # weights, gradients, two AdamW moments
    hidden = info.embedding_length or 1024
    ff = int(info.metadata.get(f"{info.architecture}.feed_forward_length") or 4 * hidden)
    heads = info.head_count or 8
    tokens = job.batch_size * job.sequence_length
    # Per token and layer, the tensors autograd keeps: ~16 hidden-sized, ~4 feed-forward-sized,
    # and the attention weights of each head over the sequence (CPU attention materialises them).
    per_token_layer = 4 * (16 * hidden + 4 * ff + 2 * heads * job.sequence_length
                           + 2 * job.lora_rank * 7)
    activations = tokens * per_token_layer * (info.block_count or 1)
    logits = 3 * 4 * (info.vocab_size or 32000) * 128
    training = RUNTIME_BYTES + weights + lora + activations + logits
    # Converting the GGUF the first time holds the file's tensors and the fp32 copy at once.
    loading = RUNTIME_BYTES + 2 * weights + info.file_size
    return int(training if cached else max(training, loading))


def approximate_chunk_lengths(job: TrainingJob, characters: int, documents: int = 1) -> list[int]:
    """Chunk lengths for a text of ``characters`` before tokenizing (~4 characters a token)."""
    tokens = max(1, characters // 4) + documents
    body = job.sequence_length - 1
    stride = body - job.overlap
    count = 1 if tokens <= body else 1 + math.ceil((tokens - body) / stride)
    if count == 1:
        return [tokens + 1]
    held = 0 if count < 5 else max(1, round(job.validation_fraction * count))
    return [job.sequence_length] * (count - held)
