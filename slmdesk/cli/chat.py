"""``slmdesk chat MODEL "prompt"``: one reply, streamed to stdout, through the engine process."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from slmdesk.cli.command_error import CommandError
from slmdesk.cli.docs import closing_embedder
from slmdesk.core.documents.citations import reply_sources
from slmdesk.core.documents.grounding import (
    NO_PASSAGES,
    Grounding,
    context_budget_characters,
    find_grounding,
    grounded_messages,
)
from slmdesk.core.documents.index import DocumentIndex
from slmdesk.core.engine.client import EngineClient
from slmdesk.core.engine.protocol import ChatParams
from slmdesk.core.engine.sampling import (
    BUILTIN_DEFAULTS,
    CHAT_SETTINGS,
    SETTINGS_BY_NAME,
    chat_defaults,
    chat_params,
)
from slmdesk.core.gguf.info import read_model_info
from slmdesk.core.library.memory import Verdict, estimate_memory
from slmdesk.core.library.store import ModelLibrary


def add_chat_parser(commands: argparse._SubParsersAction) -> None:
    chat = commands.add_parser("chat", help="ask a model one question; the reply streams out")
    chat.add_argument("model", metavar="MODEL", help="library id or path of a GGUF model")
    chat.add_argument("prompt")
    chat.add_argument("--system", default="", help="system prompt")
    chat.add_argument("--adapter", action="append", default=[], metavar="PATH[:SCALE]",
                      help="a LoRA adapter (library id or path), optionally with a strength")
    chat.add_argument("--docs", action="append", default=[], metavar="COLLECTION",
                      help="answer from a document collection (see `slmdesk docs`); cites its passages")
    chat.add_argument("--json", action="store_true",
                      help="print one JSON object with the reply and its timings")
    for setting in CHAT_SETTINGS:  # unset flags take the saved chat defaults
        flags = [setting.flag] + (["--ctx"] if setting.name == "context_length" else [])
        chat.add_argument(*flags, dest=setting.name, type=setting.kind, default=None,
                          help=f"{setting.help} (default: the Chat page's defaults for new "
                               f"chats; built in: {BUILTIN_DEFAULTS[setting.name]})")
    chat.add_argument("--threads", type=int, default=None)
    chat.add_argument("--chat-format", default=None, help="override the chat format")


def _resolve(library: ModelLibrary, reference: str) -> Path:
    """A library id or a path -> an existing file path."""
    entry, path = library.resolve(reference)
    if entry is None:
        return path
    if entry.is_missing:
        raise CommandError(f"The file of \u201c{entry.display_name}\u201d is missing: "
                               f"{entry.path}")
    return entry.path


def _adapter(library: ModelLibrary, spec: str) -> tuple[str, float]:
    reference, scale = spec, 1.0
    head, _, tail = spec.rpartition(":")
    if head and tail.replace(".", "", 1).isdigit():
        reference, scale = head, float(tail)
    return str(_resolve(library, reference)), scale


def stream_to_stdout(events: Iterable[dict[str, Any]], *, echo: bool
                     ) -> tuple[list[str], dict[str, Any]]:
    """Collect a reply's pieces (printed as they come when ``echo``) and its ``done`` event."""
    parts: list[str] = []
    done: dict[str, Any] = {}
    for event in events:
        if event["type"] == "token":
            parts.append(event["text"])
            if echo:
                sys.stdout.write(event["text"])
                sys.stdout.flush()
        else:
            done = event
    return parts, done


def ground_in_documents(conn: sqlite3.Connection, names: list[str], question: str, *, context_length: int,
                        reply_tokens: int) -> Grounding:
    """The passages of the named collections for this question, within the context budget."""
    index = DocumentIndex(conn)
    budget = context_budget_characters(context_length, reply_tokens, len(question))
    with closing_embedder() as embedder:
        for name in names:  # a watched folder: new, changed and deleted files first (a stat each)
            index.update(name, embedder=embedder)
        ids = [index.get(name).id for name in names]
        return find_grounding(conn, ids, question, budget_characters=budget, embedder=embedder)


def format_sources(sources: dict[str, Any]) -> str:
    """The citations printed after a reply (``sources`` from
    :func:`~slmdesk.core.documents.citations.reply_sources`): ``[1] notes.pdf, page 3: "..."``."""
    shown = sources["sources"]
    if not shown:
        lines = [f"Sources: {NO_PASSAGES}."]
    else:
        lines = ["Sources:" if sources["sources_basis"] == "cited" else "Not cited, but relevant:"]
    for source in shown:
        snippet = " ".join(source["text"].split())
        snippet = snippet if len(snippet) <= 100 else snippet[:99] + "\u2026"
        lines.append(f"[{source['number']}] {source['file_name']}, {source['place']}: \u201c{snippet}\u201d")
    invented = sources["invented_citations"]
    if invented:
        lines.append(f"{', '.join(f'[{n}]' for n in invented)} in the reply "
                     f"{'cites' if len(invented) == 1 else 'cite'} no passage it was given.")
    return "\n".join(lines)


def run_chat(args: argparse.Namespace, library: ModelLibrary) -> int:
    model_path = _resolve(library, args.model)
    info = read_model_info(model_path)
    if info.kind != "model":
        raise CommandError(f"{model_path.name} is a LoRA adapter, not a model: pass it "
                               "with --adapter next to its base model.")
    if not info.is_chat_model and not args.adapter:
        print(f"Note: {info.display_name} is a base model: it continues text rather than "
              "answering, so its reply may not answer. 'slmdesk complete' writes on from a text "
              "of yours; a chat model answers.", file=sys.stderr)
    settings = chat_defaults(library.conn)
    settings.update({key: getattr(args, key) for key in SETTINGS_BY_NAME
                     if getattr(args, key) is not None})
    if not args.system and settings["system_prompt"]:
        args.system = settings["system_prompt"]
    estimate = estimate_memory(info, settings["context_length"])
    if estimate.verdict is Verdict.WILL_NOT_FIT:
        raise CommandError(f"{info.display_name} will not fit in memory. "
                               f"{estimate.explain()} Try a smaller --ctx or a smaller model.")
    adapters = [_adapter(library, spec) for spec in args.adapter]
    messages = ([{"role": "system", "content": args.system}] if args.system else []) + [
        {"role": "user", "content": args.prompt}]
    params = ChatParams(**chat_params(settings))
    grounding = None
    if args.docs:
        grounding = ground_in_documents(library.conn, args.docs, args.prompt,
                                        context_length=estimate.context_length, reply_tokens=params.max_tokens)
        messages = grounded_messages(messages, grounding)
    log_path = library.paths.log_dir / "engine.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with EngineClient(log_path=log_path) as engine:
        loaded = engine.load(model_path, adapters=adapters, n_ctx=estimate.context_length,
                             n_threads=args.threads, chat_format=args.chat_format)
        if not args.json:
            print(f"[{info.display_name} \u00b7 {loaded['chat_format_description']}]",
                  file=sys.stderr)
        reply, done = stream_to_stdout(engine.chat(messages, params), echo=not args.json)
    sources = reply_sources("".join(reply), grounding.sources_json()) if grounding is not None else None
    if args.json:
        print(json.dumps({"model": str(model_path), "chat_format": loaded["chat_format"],
                          "reply": "".join(reply),
                          **{key: done.get(key) for key in (
                              "finish_reason", "prompt_tokens", "completion_tokens",
                              "time_to_first_token", "tokens_per_second", "truncated_turns")},
                          **({**(sources or {}), "documents_mode": grounding.mode}
                             if grounding is not None else {})},
                         indent=2))
    else:
        print()
        if sources is not None:
            print(format_sources(sources))
        ttft = done.get("time_to_first_token")
        speed = done.get("tokens_per_second")
        print(f"[{done.get('completion_tokens', 0)} tokens"
              + (f", first after {ttft:.2f} s" if ttft is not None else "")
              + (f", {speed:.1f} tokens/s" if speed else "") + "]", file=sys.stderr)
    return 0
