"""``slmdesk train`` and ``slmdesk runs``: fine-tuning from the command line.

::

    slmdesk train JOB.json                       run a job file (see TrainingJob)
    slmdesk train --docs FILES... [--model ID] [--preset quick|balanced|thorough]
    slmdesk train --resume RUN_ID                continue a stopped or interrupted run
    slmdesk runs list [--json]
    slmdesk runs delete RUN_ID

Progress goes to stderr (a bar on a terminal, one line per step otherwise), the result to
stdout; ``--json`` prints the worker's events as JSON lines on stdout instead. Ctrl+C saves a
checkpoint, stops, and says how to resume; a second Ctrl+C stops at once (the run can still be
resumed from its last checkpoint).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from slmdesk.cli.command_error import CommandError
from slmdesk.core.training import events as ev

EXIT_INTERRUPTED = 130


def add_train_parser(subparsers: Any) -> None:
    """Register ``train`` and ``runs`` on the main parser's subcommands."""
    train = subparsers.add_parser(
        "train", help="fine-tune a model on your documents (LoRA)",
        description="Fine-tune a model on documents. Give a job file, or --docs (and optionally "
        "--model and --preset), or --resume RUN_ID.")
    train.add_argument("job", nargs="?", metavar="JOB.json", help="a job file to run")
    train.add_argument("--docs", nargs="+", metavar="FILE", help="documents or folders to learn from")
    train.add_argument("--model", metavar="ID_OR_PATH",
                       help="the base model (library id or path; default: the starter model)")
    train.add_argument("--preset", choices=("quick", "balanced", "thorough"), default="balanced")
    train.add_argument("--no-questions", action="store_true",
                       help="train on the documents' text only, without the questions and "
                       "answers made from it (the model then continues the text but answers "
                       "questions about it less well)")
    train.add_argument("--model-questions", type=int, metavar="N",
                       help="also have the model write N questions about each passage (only "
                       "for instruction-tuned models, those with a chat template)")
    train.add_argument("--quiz", type=int, metavar="N",
                       help="questions asked in chat before and after training (default 12, 0: none)")
    sentences = train.add_mutually_exclusive_group()
    sentences.add_argument("--hold-back", action="store_true",
                           help="hold two to four sentences back from the training questions "
                           "and quiz on them too (they are then not taught: it cost answers, "
                           "see README)")
    # Every sentence is taught by default now; --teach-all, the old opt-in, is still accepted
    # so that scripts written for it keep working, and left out of the help.
    sentences.add_argument("--teach-all", action="store_true", help=argparse.SUPPRESS)
    train.add_argument("--name", help="a name for the adapter")
    train.add_argument("--epochs", type=int, help="override the preset's passes over the text")
    train.add_argument("--max-steps", type=int, help="stop after this many steps")
    train.add_argument("--sequence-length", type=int, help="tokens per training chunk")
    train.add_argument("--threads", type=int, help="CPU threads (default: one per physical core)")
    train.add_argument("--dtype", choices=("auto", "fp32", "bf16"),
                       help="arithmetic of the training steps (default auto: bf16 where a short "
                       "measurement at the start shows it faster on this processor)")
    train.add_argument("--save-job", metavar="JOB.json",
                       help="write the job file and stop, without training")
    train.add_argument("--resume", type=int, metavar="RUN_ID", help="continue a stopped run")
    train.add_argument("--json", action="store_true", help="print events as JSON lines on stdout")

    runs = subparsers.add_parser("runs", help="fine-tuning runs")
    actions = runs.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="list training runs")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    deleting = actions.add_parser("delete", help="delete a run and its folder")
    deleting.add_argument("id", type=int)
    quiz = actions.add_parser("quiz", help="a run's quiz: each question, the expected answer "
                              "and the model's replies before and after training")
    quiz.add_argument("id", type=int)


def run_train(args: argparse.Namespace) -> int:
    """Handle ``slmdesk train`` and ``slmdesk runs``."""
    if args.command == "runs":
        return _runs(args)
    return _train(args)


# -- train -------------------------------------------------------------------------------------

def _train(args: argparse.Namespace) -> int:
    from slmdesk.core.training.runs import RunStore
    from slmdesk.paths import app_paths

    store = RunStore.open(app_paths())
    try:
        store.mark_stale_running_as_interrupted()
        if args.resume is not None:
            run = store.get(args.resume)
            if not run.resumable:
                raise CommandError(f"Run {run.id} is {run.status}; only a stopped, "
                                        "interrupted or failed run can be resumed.")
            print(f"Resuming run {run.id} ({run.run_dir})", file=sys.stderr)
            return _watch(run, resume=True, as_json=args.json)
        job = _job_from_args(args)
        found = _check_documents(job)
        job.validate()
        if args.save_job:
            job.save(Path(args.save_job))
            print(f"Wrote {args.save_job}")
            return 0
        _print_estimate(job, found)
        run = store.create(job)
        print(f"Run {run.id}: {run.run_dir}", file=sys.stderr)
        return _watch(run, resume=False, as_json=args.json)
    finally:
        store.close()


def _job_from_args(args: argparse.Namespace) -> Any:
    from slmdesk.core.library.store import LibraryError, ModelLibrary
    from slmdesk.core.training.job import PRESETS, TrainingJob, job_from_preset
    from slmdesk.paths import app_paths

    if args.job and args.docs:
        raise CommandError("Give either a job file or --docs, not both.")
    if args.job:
        return TrainingJob.load(Path(args.job))
    if not args.docs:
        raise CommandError("Nothing to train on: give a job file, --docs FILES, or --resume RUN_ID.")
    library = ModelLibrary.open(app_paths())
    try:
        if args.model:
            entry = library.find(args.model)
        else:
            entry = library.ensure_starter()
            if entry is None:
                raise CommandError("No model given and the starter model was removed: "
                                        "choose one with --model ID.")
    except LibraryError as exc:
        raise CommandError(str(exc)) from None
    finally:
        library.close()
    if entry.kind != "model":
        raise CommandError(f"#{entry.id} {entry.display_name} is an adapter; choose the model "
                                "to adapt.")
    overrides = {key: value for key, value in (
        ("name", args.name), ("epochs", args.epochs), ("max_steps", args.max_steps),
        ("sequence_length", args.sequence_length), ("threads", args.threads),
        ("quiz_questions", args.quiz), ("model_questions", args.model_questions),
        ("dtype", args.dtype))
        if value is not None}
    if args.no_questions:
        overrides["knowledge_augmentation"] = False
    if args.hold_back:
        overrides["quiz_held_back"] = True
    if args.epochs is not None:  # passes chosen by hand are taken as given
        overrides["min_train_tokens"] = None
    if args.sequence_length is not None:  # keep the preset's overlap valid for short chunks
        overlap = PRESETS[args.preset]["overlap"]
        overrides["overlap"] = min(overlap, max(0, args.sequence_length // 8))
    # Absolute but not resolved: a symbolic link is reported by the name the person gave.
    docs = [os.path.abspath(Path(doc).expanduser()) for doc in args.docs]
    return job_from_preset(args.preset, entry.path, docs, base_model_id=entry.id, **overrides)


def _check_documents(job: Any) -> Any:
    """List the documents that cannot be read (they are skipped); fail when none can.
    Returns what was found (:func:`slmdesk.core.documents.collect.collect_documents`)."""
    from slmdesk.core.documents.collect import collect_documents

    found = collect_documents(job.documents)
    for line in _document_lines(job.documents, found):
        print(line, file=sys.stderr)
    if not found.documents:
        raise CommandError("None of the documents can be read, so there is nothing to train on.")
    print(f"Documents: {len(found.documents)} readable, {found.total_characters:,} characters",
          file=sys.stderr)
    return found


def _document_lines(given: list[str], found: Any) -> list[str]:
    """A line for every path the person gave: what was read from it, then what was skipped in it."""
    lines, reported = [], set()
    for source in map(Path, given):
        def within(path: Path, source: Path = source) -> bool:
            return path == source or source in path.parents

        documents = [doc for doc in found.documents if within(doc.path)]
        if documents:
            characters = sum(doc.characters for doc in documents)
            count = len(documents)
            what = "" if documents[0].path == source else f"{count} document{'s' * (count != 1)}, "
            lines.append(f"read    {source}: {what}{characters:,} characters")
        for index, skipped in enumerate(found.skipped):
            if index not in reported and within(Path(skipped.path)):
                reported.add(index)
                lines.append(f"skipped {skipped.path}: {skipped.reason}")
    lines += [f"skipped {s.path}: {s.reason}" for i, s in enumerate(found.skipped) if i not in reported]
    return lines


def _print_estimate(job: Any, found: Any) -> None:
    from slmdesk.core.gguf.info import GGUFError, format_bytes, read_model_info
    from slmdesk.core.library.memory import available_memory_bytes
    from slmdesk.core.training.base_model import is_cached
    from slmdesk.core.training.job import (
        approximate_chunk_lengths,
        estimate_training,
        example_chunk_lengths,
    )
    from slmdesk.core.training.precision import expected_choice
    from slmdesk.paths import app_paths

    try:
        info = read_model_info(job.base_model_path)
    except GGUFError as exc:
        raise CommandError(str(exc)) from None
    lengths = approximate_chunk_lengths(job, found.total_characters, len(found.documents))
    if job.knowledge_augmentation:  # each question and answer is a chunk of its own, as in the wizard
        from slmdesk.core.knowledge import augment_documents

        augmentation = augment_documents([d.text for d in found.documents],
                                         [d.title for d in found.documents], seed=job.seed,
                                         hold_back=job.holds_back)
        lengths += example_chunk_lengths(job, [len(e.question) + len(e.answer)
                                               for e in augmentation.examples])
    precision = expected_choice(job.dtype, app_paths().cache_dir)
    estimate = estimate_training(job, info, train_chunk_lengths=lengths,
                                 cached=is_cached(Path(job.base_model_path)), precision=precision)
    model = f"#{job.base_model_id} " if job.base_model_id is not None else ""
    print(f"Model: {model}{info.display_name} ({info.model_type_label})", file=sys.stderr)
    print(f"Preset {job.preset}: {estimate.summary()}", file=sys.stderr)
    print("Arithmetic: " + (f"{precision.sentence()} (last measured; measured again at the start)"
                            if precision is not None else
                            "measured on this processor when training starts"), file=sys.stderr)
    available = available_memory_bytes()
    if estimate.peak_memory_bytes > available:
        print(f"Warning: training may need {format_bytes(estimate.peak_memory_bytes)} but only "
              f"{format_bytes(available)} is available; close other programs or use a shorter "
              "sequence length.", file=sys.stderr)


#: Above this many times the base model's perplexity on general text, the user is warned.
def _watch(run: Any, *, resume: bool, as_json: bool) -> int:
    from slmdesk.core.training.runner import TrainingRunner

    runner = TrainingRunner(run.run_dir, resume=resume).start()
    progress = _Progress(sys.stderr)
    interrupted = False
    while True:
        try:
            for event in runner.events():
                if as_json:
                    print(json.dumps(event), flush=True)
                else:
                    progress.show(event)
            break
        except KeyboardInterrupt:
            if interrupted:  # a second Ctrl+C: stop now
                runner.kill()
                progress.line("Stopped without saving the last steps.")
                continue
            interrupted = True
            progress.line("Stopping: saving a checkpoint (Ctrl+C again to stop at once)\u2026")
            runner.cancel()
    runner.wait(timeout=30)
    runner.close()
    final = runner.terminal_event or {}
    kind = final.get("type")
    if kind == ev.FINISHED:
        if not as_json:
            print(f"Adapter #{final.get('adapter_model_id')} added to the library: "
                  f"{final.get('adapter_path')}")
            for line in knowledge_lines(final.get("metrics") or {}):
                print(line)
            if (final.get("metrics") or {}).get("quiz_after"):
                print(f"Each question and reply: slmdesk runs quiz {run.id}")
        return 0
    if kind in (ev.CANCELLED, ev.INTERRUPTED, ev.FAILED):
        progress.line(f"Resume with: slmdesk train --resume {run.id}")
    return EXIT_INTERRUPTED if interrupted else 1


class _Progress:
    """Human-readable progress on stderr: a redrawn bar on a terminal, lines otherwise."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.bar_shown = False

    def line(self, text: str) -> None:
        if self.bar_shown:
            self.stream.write("\n")
            self.bar_shown = False
        self.stream.write(text + "\n")
        self.stream.flush()

    def show(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == ev.STEP:
            text = ev.format_progress(event)
            if self.tty:
                self.stream.write("\r" + text.ljust(78))
                self.stream.flush()
                self.bar_shown = True
            else:
                self.line(text)
        elif kind == ev.STATUS:
            self.line(event.get("message", "") + "\u2026")
        elif kind == ev.DATASET:
            for skipped in event.get("skipped", []):
                self.line(f"skipped {skipped['path']}: {skipped['reason']}")
            held = (f"{event['validation_chunks']} held back for validation"
                    if event.get("validation_chunks") else "none held back (short text)")
            self.line(f"Dataset: {event['documents']} document(s), {event['tokens']:,} tokens, "
                      f"{event['chunks']} chunk(s) of up to {event['sequence_length']} tokens, {held}")
            counts = event.get("example_counts") or {}
            if counts:
                self.line(f"Questions and answers made from the documents: {sum(counts.values())} "
                          "(" + ", ".join(f"{n} {kind}" for kind, n in counts.items()) + ")")
        elif kind == ev.QUIZ:
            when = "Before training" if event.get("stage") == "before" else "After training"
            self.line(f"{when}, the model answered {event.get('correct')} of "
                      f"{event.get('total')} quiz questions about the documents"
                      + (" (its answers kept from an earlier run)" if event.get("cached") else ""))
        elif kind == ev.PLAN:
            self.line(f"Plan: {event['total_steps']} steps ({event['epochs']:.1f} epochs, "
                      f"{event['train_tokens']:,} tokens) on {event.get('threads')} thread(s)")
        elif kind == ev.PRECISION:
            self.line(event.get("message", "").capitalize())
        elif kind == ev.EVAL:
            what = {"validation": "validation", "general": "general-writing"}.get(
                event.get("split", ""), "training-text")
            loss, ppl = event.get("loss"), event.get("perplexity")
            self.line(f"{what.capitalize()} loss {event.get('stage')}: "
                      f"{loss if loss is None else f'{loss:.3f}'} "
                      f"(perplexity {ppl if ppl is None else f'{ppl:.2f}'})")
        elif kind == ev.CHECKPOINT and not self.tty:
            self.line(f"Checkpoint at step {event.get('step')}")
        elif kind in (ev.FINISHED, ev.CANCELLED):
            self.line(event.get("message", kind))
        elif kind in (ev.FAILED, ev.INTERRUPTED):
            self.line(f"slmdesk: {event.get('message', kind)}")
            tail = event.get("log_tail")
            if tail:
                self.line("Last lines of the training log:\n" + tail)


# -- runs --------------------------------------------------------------------------------------

def _runs(args: argparse.Namespace) -> int:
    from slmdesk.core.training.runs import RunStore
    from slmdesk.paths import app_paths

    store = RunStore.open(app_paths())
    try:
        store.mark_stale_running_as_interrupted()
        if args.action == "quiz":
            return _print_quiz(store.get(args.id))
        if args.action == "delete":
            store.delete(args.id)
            print(f"Deleted run {args.id}.")
            return 0
        runs = store.list()
        if args.json:
            print(json.dumps([run.to_dict() for run in runs], indent=2))
            return 0
        if not runs:
            print("No training runs yet. Start one with: slmdesk train --docs FILE")
            return 0
        print(f"{'ID':>4}  {'STATUS':<12} {'STEP':>9}  {'CREATED':<20}  DOCUMENTS")
        for run in runs:
            step = f"{run.metrics.get('step', 0)}/{run.metrics.get('total_steps', '?')}"
            docs = ", ".join(Path(doc).name for doc in run.job.get("documents", []))
            print(f"{run.id:>4}  {run.status:<12} {step:>9}  {run.created_at:<20}  {docs[:60]}")
        return 0
    finally:
        store.close()


def knowledge_lines(metrics: dict[str, Any]) -> list[str]:
    """The quiz score and the forgetting figure, in plain words (for the end of a run)."""
    from slmdesk.core.training.quiz_run import expectation_sentence, quiz_summary
    from slmdesk.core.training.reporting import describe_forgetting, forgetting_warning

    lines = []
    if metrics.get("quiz_before") or metrics.get("quiz_after"):
        lines.append("Quiz: " + quiz_summary(metrics.get("quiz_before"), metrics.get("quiz_after"),
                                             held_back=False))
        expectation = expectation_sentence(metrics.get("quiz_after"))
        if expectation:
            lines.append(expectation)
    forgetting, ratio = describe_forgetting(metrics)  # the same words as the wizard's
    if forgetting:
        lines.append(forgetting)
    warning = forgetting_warning(ratio, metrics.get("preset"))
    if warning:
        lines.append(f"Warning: {warning}")
    return lines


def _print_quiz(run: Any) -> int:
    from slmdesk.core.training.quiz_run import QuizResult, quiz_summary

    before, after = run.metrics.get("quiz_before"), run.metrics.get("quiz_after")
    if not before and not after:
        print(f"Run {run.id} has no quiz (it asked none, or has not finished).")
        return 0
    print(f"Run {run.id}: {quiz_summary(before, after)}")
    first = QuizResult.from_dict(before) if before else None
    second = QuizResult.from_dict(after) if after else None
    total = max(first.total if first else 0, second.total if second else 0)
    for index in range(total):
        item = (second or first).answers[index] if index < len((second or first).answers) else \
            (first or second).answers[index]
        taught = "" if item.taught else " (about a sentence held back from training)"
        print(f"\n{index + 1}. {item.question}{taught}\n   expected: {item.expected}")
        for result, when in ((first, "before"), (second, "after")):
            if result is not None and index < len(result.answers):
                answer = result.answers[index]
                mark = "right" if answer.correct else "wrong"
                print(f"   {when:6} [{mark}]: {answer.reply or '(no reply)'}")
    return 0
