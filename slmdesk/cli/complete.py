"""``slmdesk complete MODEL "text"``: the model continues the text (no chat format), streamed.

The command-line twin of the Notebook page, made for base models, which continue text rather
than answer questions. Only the continuation goes to stdout, so ``text + output`` is the whole
document and scripts can append it; the model's name, a too-long text's cut and the timings go
to stderr. The flags are the chat's (made from ``CHAT_SETTINGS``), with the same defaults.
"""

from __future__ import annotations

import argparse
import json
import sys

from slmdesk.cli.chat import _adapter, _resolve, stream_to_stdout
from slmdesk.cli.command_error import CommandError
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

DONE_KEYS = ("finish_reason", "prompt_tokens", "completion_tokens", "truncated_tokens",
             "time_to_first_token", "tokens_per_second")


def add_complete_parser(commands: argparse._SubParsersAction) -> None:
    complete = commands.add_parser(
        "complete", help="let a model continue a text (for base models); the rest streams out")
    complete.add_argument("model", metavar="MODEL", help="library id or path of a GGUF model")
    complete.add_argument("text", help='the text to continue ("-" reads it from stdin)')
    complete.add_argument("--adapter", action="append", default=[], metavar="PATH[:SCALE]",
                          help="a LoRA adapter (library id or path), optionally with a strength")
    complete.add_argument("--json", action="store_true",
                          help="print one JSON object with the continuation and its timings")
    for setting in CHAT_SETTINGS:  # unset flags take the saved chat defaults
        flags = [setting.flag] + (["--ctx"] if setting.name == "context_length" else [])
        complete.add_argument(*flags, dest=setting.name, type=setting.kind, default=None,
                              help=f"{setting.help} (default: the Chat page's defaults; "
                                   f"built in: {BUILTIN_DEFAULTS[setting.name]})")
    complete.add_argument("--stop", action="append", default=[], metavar="TEXT",
                          help="end the continuation where this text would appear (repeatable)")
    complete.add_argument("--threads", type=int, default=None)


def run_complete(args: argparse.Namespace, library: ModelLibrary) -> int:
    model_path = _resolve(library, args.model)
    info = read_model_info(model_path)
    if info.kind != "model":
        raise CommandError(f"{model_path.name} is a LoRA adapter, not a model: pass it "
                           "with --adapter next to its base model.")
    text = sys.stdin.read() if args.text == "-" else args.text
    settings = chat_defaults(library.conn)
    settings.update({key: getattr(args, key) for key in SETTINGS_BY_NAME
                     if getattr(args, key) is not None})
    estimate = estimate_memory(info, settings["context_length"])
    if estimate.verdict is Verdict.WILL_NOT_FIT:
        raise CommandError(f"{info.display_name} will not fit in memory. "
                           f"{estimate.explain()} Try a smaller --ctx or a smaller model.")
    adapters = [_adapter(library, spec) for spec in args.adapter]
    params = ChatParams(**chat_params(settings), stop=list(args.stop))
    log_path = library.paths.log_dir / "engine.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with EngineClient(log_path=log_path) as engine:
        engine.load(model_path, adapters=adapters, n_ctx=estimate.context_length,
                    n_threads=args.threads)
        if not args.json:
            kind = " (a chat model: base models continue text better)" if info.is_chat_model \
                else ""
            print(f"[{info.display_name} \u00b7 raw text, no chat format{kind}]", file=sys.stderr)
        parts, done = stream_to_stdout(engine.complete(text, params), echo=not args.json)
    if args.json:
        print(json.dumps({"model": str(model_path), "text": "".join(parts),
                          **{key: done.get(key) for key in DONE_KEYS}}, indent=2))
        return 0
    print()
    if done.get("truncated_tokens"):
        print(f"[the text is longer than the context: its first {done['truncated_tokens']} "
              "tokens were left out]", file=sys.stderr)
    ttft, speed = done.get("time_to_first_token"), done.get("tokens_per_second")
    print(f"[{done.get('prompt_tokens', 0)} + {done.get('completion_tokens', 0)} tokens"
          + (f", first after {ttft:.2f} s" if ttft is not None else "")
          + (f", {speed:.1f} tokens/s" if speed else "") + "]", file=sys.stderr)
    return 0
