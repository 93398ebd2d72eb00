"""The training worker's knowledge steps: the loss's candidate vocabulary and anchor, the
questions the model writes, the quiz and the forgetting figure.

A mixin of :class:`slmdesk.core.training.worker.Worker`, kept apart so the worker module stays
about processes, events and checkpoints. What it uses of the worker is declared on the class as
annotations only: the worker provides them, and a missing one fails loudly as an AttributeError.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from slmdesk.core.training import events as ev
from slmdesk.core.training.general_text import (
    ANCHOR_WINDOW_TOKENS,
    GENERAL_ANCHOR,
    general_text_chunks,
)
from slmdesk.core.training.job import TrainingJob
from slmdesk.core.training.knowledge_steps import load_or_write_questions


@dataclass
class QuizInFlight:
    """A quiz started by :meth:`KnowledgeSteps._start_quiz`, and what reporting it needs."""

    pending: Any  # quiz_overlap.PendingQuiz of a quiz_run.QuizResult
    stage: str
    key: str | None  # its cache key (the base model's quiz only)
    count: int


class KnowledgeSteps:
    """Steps of a run that serve what the model knows afterwards, not the arithmetic."""

    events: Any
    metrics: dict[str, Any]
    run_dir: Path
    stop_requested: Any
    candidates: list[int] | None
    quiz_in_flight: "QuizInFlight | None"  # the base model's quiz while the training loads
    _status: Callable[[str, str], None]  # (stage, message): a status event for the window

    def _loss_setup(self, loop: Any, model: Any, job: TrainingJob, dataset: Any, tokenizer: Any,
                    checkpoint: Any) -> tuple[Any, Any]:
        """The candidate vocabulary and the anchor targets of the loss, from the base model
        (the adapter is switched off: on resume it already holds trained weights). The base
        model's likely tokens are harvested on the documents' own text; the generated examples
        restate it, so their tokens alone are added."""
        from slmdesk.core.training.base_pass import base_predictions
        from slmdesk.core.training.dataset import TEXT
        from slmdesk.core.training.vocabulary import CandidateVocabulary

        if not job.candidate_vocabulary or loop.output_layer_rows(model) is None:
            return None, None
        vocabulary = CandidateVocabulary(loop.output_layer_rows(model))
        resumed = checkpoint is not None and bool(checkpoint.state.get("candidates"))
        windows = (general_text_chunks(tokenizer, ANCHOR_WINDOW_TOKENS, GENERAL_ANCHOR)
                   if job.anchor_weight > 0 else [])
        texts = [] if resumed else [c.tokens for c in dataset.train if c.kind == TEXT]
        with model.disable_adapter():
            if resumed:
                vocabulary.add(checkpoint.state["candidates"])
            else:
                for chunk in dataset.train:
                    vocabulary.add(chunk.tokens)
            if texts or windows:
                self._status("preparing", "Finding the words that the training will weigh, and "
                             "how the base model writes general text")
                # one full-vocabulary pass for both (slmdesk.core.training.base_pass)
                anchor = base_predictions(model, texts, windows, vocabulary)
            else:
                anchor = None
        self.candidates = vocabulary.state()
        return vocabulary, anchor

    def _written_questions(self, job: TrainingJob, texts: list[str]) -> list[Any]:
        """Questions the base model writes about the documents (instruction-tuned models only);
        any failure leaves the rule-made examples alone."""
        from slmdesk.core.engine.client import EngineCrashed, EngineError
        from slmdesk.core.gguf.info import GGUFError, read_model_info
        from slmdesk.core.training.model_questions import offered_for

        path = Path(job.base_model_path).expanduser()
        try:
            if not offered_for(read_model_info(path)):
                self._status("tokenizing", "The model has no chat template, so it does not write "
                             "questions itself; the rule-made questions are used.")
                return []
            self._status("tokenizing", "The model is writing questions about your documents")
            return load_or_write_questions(
                self.run_dir, path, texts, job.model_questions, threads=job.threads or None,
                should_stop=self.stop_requested.is_set,
                on_progress=lambda done, total: self._status(
                    "tokenizing", f"The model wrote questions for {done} of {total} passages"))
        except (EngineError, EngineCrashed, GGUFError, OSError, TimeoutError) as exc:
            self._status("tokenizing", f"The model could not write questions ({exc}); the "
                         "rule-made questions are used.")
            return []

    def _quiz(self, job: TrainingJob, items: list[Any], stage: str, adapter: Path | None = None,
              texts: list[str] | None = None) -> None:
        """Ask the quiz in chat through the engine, now (see :meth:`_start_quiz`)."""
        pending = self._start_quiz(job, items, stage, adapter, texts)
        if pending is not None:
            self._end_quiz(pending)

    def _start_quiz(self, job: TrainingJob, items: list[Any], stage: str,
                    adapter: Path | None = None, texts: list[str] | None = None, *,
                    background: bool = False, threads: int = 0) -> "QuizInFlight | None":
        """Start asking the quiz, in a thread when ``background``
        (:mod:`slmdesk.core.training.quiz_overlap`); :meth:`_end_quiz` reports it. None when
        there is nothing to ask: the base model's answers are kept per (model, documents,
        quiz) (:mod:`slmdesk.core.training.quiz_cache`), and a re-run reads them."""
        from slmdesk.core.training import quiz_cache
        from slmdesk.core.training.quiz_overlap import PendingQuiz
        from slmdesk.core.training.quiz_run import ask_quiz
        from slmdesk.paths import app_paths

        key = None
        if stage == "before" and texts is not None:
            key = quiz_cache.quiz_key(Path(job.base_model_path).expanduser(),
                                      quiz_cache.documents_hash(texts), items)
            cached = quiz_cache.load_cached(app_paths().cache_dir, key)
            if cached is not None and cached.total == len(items):
                self._status("quiz", "The base model's answers to this quiz are kept from an "
                             "earlier run on the same documents")
                self.metrics["quiz_before"] = cached.to_dict()
                self.events.emit(ev.QUIZ, **cached.to_dict(), cached=True)
                return None
        who = "the base model" if stage == "before" else "the adapted model"
        while_loading = " while the training loads" if background else ""
        self._status("quiz", f"Asking {who} {len(items)} questions about the documents"
                     + while_loading)

        def ask(abandoned: Callable[[], bool]) -> Any:
            return ask_quiz(Path(job.base_model_path).expanduser(), items, stage,
                            adapter_path=adapter, threads=threads or job.threads or None,
                            should_stop=lambda: self.stop_requested.is_set() or abandoned())

        return QuizInFlight(PendingQuiz(ask, background=background), stage, key, len(items))

    def _quiz_before(self, job: TrainingJob, quiz: Any, texts: list[str] | None, *,
                     overlap: bool) -> None:
        """The base model's quiz: asked now, or, where :func:`quiz_overlap.overlap_wanted`
        says it pays, in a thread while the training loads (not while the model writes its
        own questions: two engines would share the cores)."""
        from slmdesk.core.training.job import physical_cores
        from slmdesk.core.training.quiz_overlap import overlap_engine_threads, overlap_wanted

        cores = physical_cores()
        if not (overlap and overlap_wanted(job.quiz_overlap, cores)):
            self._quiz(job, quiz, "before", texts=texts)
            return
        self.quiz_in_flight = self._start_quiz(
            job, quiz, "before", texts=texts, background=True,
            threads=overlap_engine_threads(cores, job.threads))

    def _wait_for_quiz(self, abandon: bool = False) -> None:
        """Report the quiz running in the background, or stop it (the run ends early)."""
        quiz, self.quiz_in_flight = self.quiz_in_flight, None
        if quiz is None:
            return
        if abandon:
            quiz.pending.abandon()
            return
        if not quiz.pending.done:
            self._status("quiz", "Waiting for the quiz's last answers")
        self._end_quiz(quiz)

    def _end_quiz(self, quiz: "QuizInFlight") -> None:
        """Wait for a started quiz and report it; a quiz that cannot run is reported and
        skipped, never a reason to lose the training."""
        from slmdesk.core.engine.client import EngineCrashed, EngineError
        from slmdesk.core.training import quiz_cache
        from slmdesk.paths import app_paths

        try:
            result = quiz.pending.result()
        except (EngineError, EngineCrashed, OSError, TimeoutError) as exc:
            self._status("quiz", f"The quiz could not be asked ({exc}); training goes on.")
            return
        self.metrics[f"quiz_{quiz.stage}"] = result.to_dict()
        self.events.emit(ev.QUIZ, **result.to_dict(), cached=False,
                         overlapped=quiz.pending.background)
        if quiz.key is not None and result.total == quiz.count:  # a stopped quiz is not kept
            quiz_cache.store(app_paths().cache_dir, quiz.key, result)

    def _eval_general(self, model: Any, chunks: list[list[int]], stage: str) -> None:
        """Perplexity on a general text unrelated to the documents: how much the model's
        ordinary writing suffers (forgetting)."""
        from slmdesk.core.training.loop import evaluate, perplexity

        if not chunks:
            return
        loss, _ = evaluate(model, chunks)
        self.metrics[f"general_perplexity_{stage}"] = perplexity(loss)
        self.events.emit(ev.EVAL, stage=stage, loss=loss, perplexity=perplexity(loss),
                         split="general", tokens=sum(len(c) - 1 for c in chunks))
