"""The training process: ``python -m slmdesk.core.training.worker RUN_DIR [--resume]``.

``RUN_DIR`` holds ``job.json``. The worker reads the documents, loads the base model (cached after
the first run), trains a LoRA adapter and writes JSON-line events (see
:mod:`slmdesk.core.training.events`) on stdout and to ``RUN_DIR/events.jsonl``. It ends by saving
the PEFT adapter, exporting it to ``RUN_DIR/adapter.gguf`` and only then adding it to the library
under its base model, so the library never lists a half-written adapter.

Stopping: a ``{"type": "cancel"}`` line on stdin, SIGTERM or SIGINT stops at the next chunk,
saves a checkpoint and exits with :data:`EXIT_CANCELLED`; ``--resume`` continues from the latest
checkpoint to the same result as a run that never stopped. A worker killed outright leaves the
previous checkpoint (they are renamed into place complete) and a run that the parent, or the next
start of the app, marks *interrupted*.

stdout belongs to the events: at start the worker keeps a private copy of it and points file
descriptor 1 at stderr, so a library that prints cannot corrupt the stream.
"""

from __future__ import annotations

import _thread
import argparse
import os
import shutil
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any, BinaryIO

from slmdesk.core.training import events as ev
from slmdesk.core.training.general_text import GENERAL_EVAL, general_text_chunks
from slmdesk.core.training.job import (
    JOB_FILE,
    JobError,
    TrainingJob,
    plan_training,
    step_chunks,
)
from slmdesk.core.training.knowledge_steps import (
    KnowledgeExamples,
    knowledge_examples,
    load_or_make_quiz,
)
from slmdesk.core.training.worker_steps import KnowledgeSteps

EXIT_FAILED = 1
EXIT_CANCELLED = 3


class _Cancelled(Exception):
    """Raised in the main thread when a stop request arrives while nothing can be saved yet."""


class _Failure(Exception):
    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message, self.detail = message, detail


def _take_stdout() -> BinaryIO:
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(protocol_fd, "wb", buffering=0)


class Worker(KnowledgeSteps):
    def __init__(self, run_dir: Path, resume: bool, out: BinaryIO | None) -> None:
        self.run_dir = run_dir.resolve()
        self.resume = resume
        self.events = ev.EventWriter(out, self.run_dir / ev.EVENTS_FILE)
        self.stop_requested = threading.Event()
        self.phase = "loading"  # loading -> training -> finishing
        self.store: Any = None
        self.run_id: int | None = None
        self.metrics: dict[str, Any] = {}
        self.written: list[Any] = []  # questions the model wrote itself (optional)
        self.candidates: list[int] | None = None  # the loss's fixed columns, kept in checkpoints
        self.precision: Any = None  # the steps' PrecisionChoice, kept in checkpoints
        self.quiz_in_flight = None  # the base model's quiz while the training loads

    # -- stop requests -----------------------------------------------------------------------

    def install_stop_handlers(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        threading.Thread(target=self._read_stdin, name="worker-stdin", daemon=True).start()

    def _on_signal(self, signum: int, frame: Any) -> None:
        self.stop_requested.set()
        if self.phase == "loading":  # nothing to save yet: stop right away
            raise _Cancelled()

    def _read_stdin(self) -> None:
        for line in sys.stdin.buffer:
            try:
                request = ev.parse_event(line)
            except ev.EventError:
                continue
            if request.get("type") == "cancel":
                self.stop_requested.set()
                if self.phase == "loading":
                    _thread.interrupt_main(signal.SIGTERM)

    # -- the run -----------------------------------------------------------------------------

    def run(self) -> int:
        try:
            job = self._open_run()
            self.install_stop_handlers()
            return self._train(job)
        except _Cancelled:
            return self._cancelled(step=None)
        except _Failure as exc:
            return self._failed(exc.message, exc.detail)
        except JobError as exc:
            return self._failed(str(exc), "")
        except MemoryError:
            return self._failed("Training ran out of memory. Close other programs, or use a "
                                "shorter sequence length or a smaller batch.",
                                traceback.format_exc())
        except Exception as exc:  # noqa: BLE001 - every failure must reach the user as an event
            return self._failed(f"Training failed: {exc}", traceback.format_exc())
        finally:
            self._wait_for_quiz(abandon=True)
            self.events.close()

    def _open_run(self) -> TrainingJob:
        from slmdesk.core.training.runs import RunStore
        from slmdesk.paths import app_paths

        job = TrainingJob.load(self.run_dir / JOB_FILE)
        self.store = RunStore.open(app_paths())
        run = self.store.find_by_dir(self.run_dir) or self.store.create(job, run_dir=self.run_dir)
        self.store.claim(run.id, os.getpid())  # refuses a finished run or one running elsewhere
        self.run_id = run.id
        self.metrics = dict(run.metrics) if self.resume else {}
        self.events.emit(ev.STARTED, pid=os.getpid(), run_id=run.id, run_dir=str(self.run_dir),
                         resume=self.resume, job=job.to_dict())
        job.validate(check_files=False)
        return job

    def _status(self, stage: str, message: str) -> None:
        self.events.emit(ev.STATUS, stage=stage, message=message)

    def _train(self, job: TrainingJob) -> int:
        from slmdesk.core.training.loop import latest_checkpoint

        checkpoint = latest_checkpoint(self.run_dir) if self.resume else None
        if not self.resume:
            for stale in ("checkpoints", "adapter", "adapter.gguf", "chunks.jsonl"):
                path = self.run_dir / stale
                shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        documents = None if checkpoint is not None else self._read_documents(job)
        texts = None if documents is None else [d.text for d in documents.documents]
        quiz = load_or_make_quiz(self.run_dir, texts, job.quiz_questions, seed=job.seed,
                                 hold_back=job.holds_back)
        writes = texts is not None and bool(job.model_questions and job.knowledge_augmentation)
        if quiz and "quiz_before" not in self.metrics:
            self._quiz_before(job, quiz, texts, overlap=not writes)
        if writes:
            self.written = self._written_questions(job, texts or [])
        self._status("loading", "Loading the training libraries")
        import torch

        from slmdesk.core.training import loop
        from slmdesk.core.training.base_model import load_base_model
        from slmdesk.core.training.precision import training_autocast

        threads = job.resolved_threads
        torch.set_num_threads(threads)  # oneDNN's products run on these (OpenMP) threads
        try:  # eager training never forks inter-op tasks: a pool per core would only idle
            torch.set_num_interop_threads(1)
        except RuntimeError:  # already started (only when torch was used before in-process)
            pass
        base_path = Path(job.base_model_path).expanduser()
        if not base_path.is_file():
            raise _Failure(f"The base model file {base_path} is missing.")
        model, tokenizer, cached = load_base_model(base_path, status=self._status)
        dataset = self._dataset(job, tokenizer, documents)
        train = [chunk.tokens for chunk in dataset.train]
        validation = [chunk.tokens for chunk in dataset.validation]
        plan = plan_training(job, [len(tokens) for tokens in train])
        self.events.emit(ev.PLAN, total_steps=plan.total_steps, steps_per_epoch=plan.steps_per_epoch,
                         epochs=plan.epochs, train_tokens=plan.train_tokens, threads=threads)

        self._wait_for_quiz()  # the probe times the processor alone
        precision = self._precision(job, model, checkpoint)
        model = loop.add_lora(model, job)
        model.train()
        optimizer, scheduler = loop.make_optimizer(model, job, plan.total_steps)
        split = dataset.validation_split
        start_step = 0
        general = general_text_chunks(tokenizer, job.sequence_length, GENERAL_EVAL)
        vocabulary, anchor = self._loss_setup(loop, model, job, dataset, tokenizer, checkpoint)
        if checkpoint is not None:
            loop.load_checkpoint(checkpoint, model, optimizer, scheduler)
            start_step = checkpoint.step
            self.metrics.update(checkpoint.state.get("metrics", {}))
            self._status("resuming", f"Resuming from step {start_step} of {plan.total_steps}")
        else:
            self._status("evaluating", "Measuring the base model on the validation text")
            self._eval(model, validation, job, "before", split)
            self._eval_general(model, general, "before")
        held = self._hold_body_in_bf16(model, base_path, precision)  # after the fp32 figures
        self.phase = "training"
        if self.stop_requested.is_set():
            return self._checkpoint_and_cancel(loop, model, optimizer, scheduler, start_step,
                                               torch.get_rng_state(), saved_step=None)

        started, trained_tokens = time.perf_counter(), 0
        saved_step = checkpoint.step if checkpoint is not None else None
        loss = float("nan")
        for step in range(start_step, plan.total_steps):
            rng = torch.get_rng_state()
            batches = loop.micro_batches([train[i] for i in step_chunks(plan, job, step)],
                                         job.batch_size, job.batch_size * job.sequence_length)
            result = loop.train_step(model, optimizer, scheduler, batches, job.max_grad_norm,
                                     self.stop_requested.is_set, vocabulary=vocabulary,
                                     anchor=anchor, anchor_weight=job.anchor_weight, step=step,
                                     dtype=precision.dtype)
            if result is None:
                return self._checkpoint_and_cancel(loop, model, optimizer, scheduler, step, rng,
                                                   saved_step)
            loss, tokens = result
            trained_tokens += tokens
            speed = trained_tokens / max(time.perf_counter() - started, 1e-6)
            remaining = (plan.total_steps - step - 1) * plan.train_tokens / plan.total_steps
            done = step + 1
            self.events.emit(ev.STEP, step=done, total_steps=plan.total_steps,
                             epoch=round(done / plan.steps_per_epoch, 3), loss=loss,
                             learning_rate=scheduler.get_last_lr()[0], tokens=tokens,
                             tokens_per_second=speed,
                             eta_seconds=(remaining + len(validation) * job.sequence_length
                                          * 0.5) / speed)
            self.metrics.update(step=done, total_steps=plan.total_steps, train_loss=loss,
                                tokens_per_second=speed)
            if job.eval_every and done % job.eval_every == 0 and done < plan.total_steps:
                with training_autocast("bf16" if held is not None else "fp32"):
                    self._eval(model, validation, job, "during", split)  # a bf16 body: autocast
            if job.checkpoint_every and done % job.checkpoint_every == 0 and done < plan.total_steps:
                self._save(loop, model, optimizer, scheduler, done, torch.get_rng_state())
                saved_step = done
            if self.stop_requested.is_set() and done < plan.total_steps:
                return self._checkpoint_and_cancel(loop, model, optimizer, scheduler, done,
                                                   torch.get_rng_state(), saved_step)

        self.phase = "finishing"
        self.metrics["peak_memory_bytes"] = _peak_rss()
        if saved_step != plan.total_steps:
            self._save(loop, model, optimizer, scheduler, plan.total_steps, torch.get_rng_state())
        if held is not None:
            from slmdesk.core.training.base_weights import restore_fp32

            restore_fp32(held)  # the figures after training from the original fp32 weights
        self._status("evaluating", "Measuring the adapted model on the validation text")
        self._eval(model, validation, job, "after", split)
        self._eval_general(model, general, "after")
        return self._finish(job, model, base_path, dataset)

    def _precision(self, job: TrainingJob, model: Any, checkpoint: Any) -> Any:
        """The dtype of the steps: kept from the checkpoint on resume (a run must end as it
        would have without stopping), else measured now (see slmdesk.core.training.precision)."""
        from slmdesk.core.training.layer_step import model_layer_shapes
        from slmdesk.core.training.precision import (
            PrecisionChoice,
            probe_precision,
            save_probe,
        )
        from slmdesk.paths import app_paths

        kept = PrecisionChoice.from_dict(checkpoint.state.get("precision")) if checkpoint else None
        if kept is not None:
            choice = PrecisionChoice(**{**kept.to_dict(), "reason": "resumed"})
        else:
            self._status("preparing", "Measuring which arithmetic is faster on this processor")
            shapes = model_layer_shapes(model)
            choice = probe_precision(shapes.hidden, shapes.intermediate,
                                     job.batch_size * job.sequence_length, shapes=shapes,
                                     requested=job.dtype)
            save_probe(choice, app_paths().cache_dir)
        self.precision = choice
        self.metrics["precision"] = choice.to_dict()
        self.events.emit(ev.PRECISION, **choice.to_dict(), message=choice.sentence())
        return choice

    def _hold_body_in_bf16(self, model: Any, base_path: Path, precision: Any) -> Any:
        """Cast the frozen body to bf16 where the run holds it so (``precision.weights``; see
        slmdesk.core.training.base_weights), the fp32 originals to be read back from the
        converted model's cache; None where the body stays fp32."""
        if precision.dtype != "bf16" or precision.weights != "bf16":
            return None
        from slmdesk.core.training.base_model import cache_dir_for, is_cached
        from slmdesk.core.training.base_weights import store_body_in_bf16

        held = store_body_in_bf16(model, cache_dir_for(base_path) if is_cached(base_path)
                                  else None)
        self.metrics["base_weights"] = {
            "dtype": "bf16", "parameters": held.cast_parameters, "bytes_saved": held.saved_bytes,
            "kept_in_memory": len(held.kept), "rss_bytes": _rss_now()}
        return held

    def _read_documents(self, job: TrainingJob) -> Any:
        """Read the documents before the slow model load, so a bad set fails at once."""
        from slmdesk.core.documents.collect import collect_documents

        self._status("reading", "Reading the documents")
        found = collect_documents(job.documents)
        if not found.documents:
            reasons = "; ".join(f"{s.path}: {s.reason}" for s in found.skipped)
            raise _Failure("None of the documents could be read" + (f" ({reasons})." if reasons else "."))
        return found

    def _dataset(self, job: TrainingJob, tokenizer: Any, found: Any) -> Any:
        """Chunks from the documents just read, or, when resuming, the chunks saved at the
        start (the files may have changed since, and a resumed run must see the same data)."""
        from slmdesk.core.training.dataset import (
            CHUNKS_FILE,
            HFTokenizer,
            TokenDataset,
            build_dataset,
        )

        wrapped = HFTokenizer(tokenizer)
        path = self.run_dir / CHUNKS_FILE
        if found is None and path.is_file():
            dataset = TokenDataset.read_jsonl(path)
            skipped: list[dict[str, str]] = []
        else:
            found = found or self._read_documents(job)
            skipped = [{"path": str(s.path), "reason": s.reason} for s in found.skipped]
            texts, titles = [doc.text for doc in found.documents], [doc.title for doc in found.documents]
            knowledge = KnowledgeExamples()
            if job.knowledge_augmentation:
                self._status("tokenizing", "Writing questions and answers from the documents")
                knowledge = knowledge_examples(texts, titles, Path(job.base_model_path).expanduser(),
                                               seed=job.seed, written=self.written,
                                               hold_back=job.holds_back)
                for note in knowledge.notes:
                    self._status("tokenizing", note)
                self.metrics["knowledge_notes"] = knowledge.notes
            self._status("tokenizing", f"Cutting {len(found.documents)} document(s) into chunks")
            dataset = build_dataset(texts, wrapped, sequence_length=job.sequence_length,
                                    overlap=job.overlap, validation_fraction=job.validation_fraction,
                                    seed=job.seed, titles=titles, examples=knowledge.examples)
            if not dataset.train:
                raise _Failure("The documents hold no text to train on.")
            dataset.write_jsonl(path)
        self.events.emit(ev.DATASET, **dataset.stats.to_dict(), skipped=skipped,
                         titles=dataset.titles, preview=dataset.preview(wrapped),
                         examples=dataset.example_preview(wrapped))
        self.metrics["dataset"] = dataset.stats.to_dict()
        return dataset

    def _eval(self, model: Any, chunks: list[list[int]], job: TrainingJob, stage: str, split: str) -> None:
        from slmdesk.core.training.loop import evaluate, perplexity

        loss, tokens = evaluate(model, chunks, job.batch_size)
        self.events.emit(ev.EVAL, stage=stage, loss=loss, perplexity=perplexity(loss),
                         split=split, tokens=tokens)
        if stage in ("before", "after"):
            self.metrics[f"{split}_loss_{stage}"] = loss
            self.metrics[f"{split}_perplexity_{stage}"] = perplexity(loss)
            self.metrics["evaluation_split"] = split

    def _save(self, loop: Any, model: Any, optimizer: Any, scheduler: Any, step: int,
              rng: Any) -> None:
        state: dict[str, Any] = {"metrics": self.metrics}
        if self.candidates is not None:
            state["candidates"] = self.candidates
        if self.precision is not None:
            state["precision"] = self.precision.to_dict()
        path = loop.save_checkpoint(self.run_dir, step, model, optimizer, scheduler, rng, state)
        self.events.emit(ev.CHECKPOINT, step=step, path=str(path))
        if self.store is not None and self.run_id is not None:
            self.store.update(self.run_id, metrics=self.metrics)

    def _checkpoint_and_cancel(self, loop: Any, model: Any, optimizer: Any, scheduler: Any,
                               step: int, rng: Any, saved_step: int | None) -> int:
        if step > 0 and step != saved_step:
            self._save(loop, model, optimizer, scheduler, step, rng)
        return self._cancelled(step)

    def _finish(self, job: TrainingJob, model: Any, base_path: Path, dataset: Any) -> int:
        from slmdesk.core.library.store import (
            DuplicateModelError,
            ModelLibrary,
            file_fingerprint,
        )
        from slmdesk.core.training.export import ExportError, export_lora_gguf
        from slmdesk.paths import app_paths

        self._status("saving", "Saving the adapter")
        adapter_dir = self.run_dir / "adapter"
        tmp = self.run_dir / ".adapter.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(tmp)
        shutil.rmtree(adapter_dir, ignore_errors=True)
        os.replace(tmp, adapter_dir)
        name = job.name or _default_name(dataset.titles)
        try:
            export_lora_gguf(adapter_dir, base_path, self.run_dir / "adapter.gguf", name=name)
        except ExportError as exc:
            raise _Failure(f"The adapter was trained but could not be converted for chat: {exc}",
                           exc.detail or "") from exc
        quiz = load_or_make_quiz(self.run_dir, None, 0)
        if quiz:
            self._quiz(job, quiz, "after", self.run_dir / "adapter.gguf")
        provenance = {
            "source": "slmdesk training", "run_id": self.run_id, "run_dir": str(self.run_dir),
            "documents": job.documents, "document_titles": dataset.titles,
            "base_model_path": str(base_path), "job": job.to_dict(), **self.metrics}
        library = ModelLibrary.open(app_paths())
        try:
            base_id = job.base_model_id
            if base_id is None:
                found = library.find_by_fingerprint(file_fingerprint(base_path))
                base_id = found.id if found is not None else None
            try:
                entry = library.import_file(self.run_dir / "adapter.gguf", provenance=provenance,
                                            base_model_id=base_id)
            except DuplicateModelError as exc:  # a resumed run registering the same file again
                entry = exc.existing
        finally:
            library.close()
        message = f"Finished: the adapter \u201c{entry.display_name}\u201d is in the library."
        if self.store is not None:
            self.store.update(self.run_id, status="finished", metrics=self.metrics, error=None,
                              pid=None, adapter_model_id=entry.id)
        self.events.emit(ev.FINISHED, adapter_path=str(entry.path), adapter_model_id=entry.id,
                         metrics=self.metrics, message=message)
        return 0

    def _cancelled(self, step: int | None) -> int:
        message = ("Training stopped" + (f" at step {step}" if step else "")
                   + "; it can be resumed where it stopped.")
        if self.store is not None and self.run_id is not None:
            self.store.update(self.run_id, status="cancelled", metrics=self.metrics, pid=None,
                              error=None)
        self.events.emit(ev.CANCELLED, step=step, resumable=True, message=message)
        return EXIT_CANCELLED

    def _failed(self, message: str, detail: str) -> int:
        if detail:
            print(detail, file=sys.stderr)
        if self.store is not None and self.run_id is not None:
            self.store.update(self.run_id, status="failed", metrics=self.metrics, pid=None,
                              error=message)
        self.events.emit(ev.FAILED, message=message, detail=detail, resumable=True)
        return EXIT_FAILED


def _peak_rss() -> int | None:
    """The process's resident high-water mark in bytes (loading included)."""
    try:
        import resource
    except ImportError:  # Windows
        import psutil

        return getattr(psutil.Process().memory_info(), "peak_wset", None)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def _rss_now() -> int | None:
    """The process's resident size now, in bytes (None where it cannot be read)."""
    try:
        import psutil

        return int(psutil.Process().memory_info().rss)
    except (ImportError, OSError):
        return None


def _default_name(titles: list[str]) -> str:
    first = titles[0] if titles else "documents"
    more = f" +{len(titles) - 1}" if len(titles) > 1 else ""
    return f"{first[:48]}{more} (LoRA)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="slmdesk-training-worker")
    parser.add_argument("run_dir", type=Path, help="the run folder, holding job.json")
    parser.add_argument("--resume", action="store_true", help="continue from the latest checkpoint")
    args = parser.parse_args(argv)
    # OpenMP threads that spin while waiting are fast on an idle machine and disastrous on a busy
    # one (measured: 5x slower with one other busy process on 2 cores); sleeping waiters cost
    # little when idle. Must be set before torch starts its OpenMP runtime.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    # One OpenMP thread per physical core for torch and oneDNN from the start (the job's own
    # count is set once it is read); OpenMP's default counts hyper-threads.
    from slmdesk.core.training.job import physical_cores

    os.environ.setdefault("OMP_NUM_THREADS", str(physical_cores()))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    out = _take_stdout()
    return Worker(args.run_dir, args.resume, out).run()


if __name__ == "__main__":
    sys.exit(main())
