"""The command line: the same core as the window, headless and scriptable.

Every command prints results to stdout and problems to stderr, and exits non-zero on failure,
so it can be used from scripts and tested without a screen.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from slmdesk import __version__
from slmdesk.cli.chat import add_chat_parser, run_chat
from slmdesk.cli.command_error import CommandError
from slmdesk.cli.complete import add_complete_parser, run_complete
from slmdesk.cli.docs import add_docs_parser, run_docs
from slmdesk.cli.get_models import HUB_ACTIONS, add_hub_parsers, run_hub_action
from slmdesk.cli.serve import add_serve_parser, run_serve
from slmdesk.cli.train import add_train_parser, run_train
from slmdesk.core.errors import SlmdeskError
from slmdesk.core.gguf.info import (
    MODEL_TYPE_SENTENCES,
    ModelInfo,
    format_bytes,
    format_parameter_count,
    read_model_info,
)
from slmdesk.core.library.memory import estimate_memory
from slmdesk.core.library.store import LibraryEntry, LibraryError, ModelLibrary
from slmdesk.core.logs import send_library_logs_to_file
from slmdesk.paths import app_paths


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="slmdesk", description="Small language models on your own computer. "
        "Run without arguments to open the window.")
    parser.add_argument("--version", action="version", version=f"slmdesk {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    models = commands.add_parser("models", help="the model library")
    actions = models.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="list models and adapters")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    importing = actions.add_parser("import", help="add a GGUF file to the library")
    importing.add_argument("path")
    importing.add_argument("--link", action="store_true",
                           help="leave the file where it is instead of copying it")
    scanning = actions.add_parser("scan", help="find GGUF files in a folder and link them")
    scanning.add_argument("folder")
    info = actions.add_parser("info", help="show a model's header")
    info.add_argument("model", metavar="ID_OR_PATH")
    info.add_argument("--json", action="store_true")
    removing = actions.add_parser("remove", help="remove a model from the library")
    removing.add_argument("id", type=int)
    delete = removing.add_mutually_exclusive_group()
    delete.add_argument("--delete-file", action="store_true",
                        help="also delete the file if the library copied it")
    delete.add_argument("--keep-file", action="store_true",
                        help="keep the copied file on disk (the default without a terminal)")
    add_hub_parsers(actions)
    add_chat_parser(commands)
    add_complete_parser(commands)
    add_train_parser(commands)
    add_serve_parser(commands)
    add_docs_parser(commands)
    return parser


def run_cli(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    send_library_logs_to_file(app_paths().log_dir)  # a library's warning is not ours to print
    try:
        handler = {"models": _models, "chat": _chat, "complete": _complete, "train": run_train,
                   "runs": run_train, "serve": run_serve, "docs": run_docs}[args.command]
        code = handler(args)
        sys.stdout.flush()  # here, where a reader that left (BrokenPipeError) is caught
        return code
    except SlmdeskError as exc:  # every error meant for the user, from any part of the core
        print(f"slmdesk: {exc.message}", file=sys.stderr)
        if exc.detail:
            print(exc.detail, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("slmdesk: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # "slmdesk models list | head": the reader has what it wanted
        # Python flushes stdout again at exit; pointing it at nothing keeps that quiet too.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports a command whose reader left


def _open_library() -> ModelLibrary:
    library = ModelLibrary.open(app_paths())
    try:
        library.ensure_starter()
    except LibraryError as exc:
        print(f"slmdesk: {exc}", file=sys.stderr)
    return library


def _chat(args: argparse.Namespace) -> int:
    library = _open_library()
    try:
        return run_chat(args, library)
    finally:
        library.close()


def _complete(args: argparse.Namespace) -> int:
    library = _open_library()
    try:
        return run_complete(args, library)
    finally:
        library.close()


def _models(args: argparse.Namespace) -> int:
    if args.action in HUB_ACTIONS:
        return run_hub_action(args)
    library = _open_library()
    try:
        if args.action == "list":
            return _list(library, args.json)
        if args.action == "import":
            entry = library.import_file(args.path, link=args.link)
            how = "linked" if args.link else "copied into the library"
            print(f"Added #{entry.id} {entry.display_name} ({how}): {entry.path}")
            return 0
        if args.action == "scan":
            report = library.scan_folder(args.folder)
            for entry in report.added:
                print(f"added   #{entry.id} {entry.display_name}: {entry.path}")
            for path, existing in report.duplicates:
                print(f"known   {path} (already #{existing.id})")
            for path, message in report.errors:
                print(f"skipped {path}: {message}", file=sys.stderr)
            print(report.summary())
            return 0
        if args.action == "info":
            return _info(library, args.model, args.json)
        if args.action == "remove":
            return _remove(library, args)
    finally:
        library.close()
    raise CommandError(f"unknown action {args.action}")


def _list(library: ModelLibrary, as_json: bool) -> int:
    entries = library.entries()
    if as_json:
        print(json.dumps([_entry_json(entry) for entry in entries], indent=2))
        return 0
    if not entries:
        print("The library is empty. Add a model with: slmdesk models import FILE.gguf")
        return 0
    header = f"{'ID':>4}  {'NAME':<32} {'TYPE':<7} {'ARCH':<10} {'PARAMS':>8} {'QUANT':<8} " \
             f"{'SIZE':>9} {'CONTEXT':>8}  MEMORY"
    print(header)
    models = [entry for entry in entries if entry.kind == "model"]
    adapters = [entry for entry in entries if entry.kind == "adapter"]
    for model in models:
        print(_list_row(model))
        for adapter in adapters:
            if adapter.base_model_id == model.id:
                print(_list_row(adapter, indent="  \u2514 "))
    for adapter in adapters:
        if adapter.base_model_id is None:
            print(_list_row(adapter) + "  (no base model of this architecture)")
    kinds = sorted({model.info.model_type_label for model in models}, key=["chat", "base"].index)
    for kind in kinds:  # what the marks mean, once
        print(f"{kind}: {MODEL_TYPE_SENTENCES[kind]}")
    return 0


def _list_row(entry: LibraryEntry, indent: str = "") -> str:
    info = entry.info
    name = (indent + entry.display_name)[:32]
    memory = "missing file" if entry.is_missing else (
        "adapter" if entry.kind == "adapter" else estimate_memory(info).verdict.label)
    return (f"{entry.id:>4}  {name:<32} {info.model_type_label:<7} {info.architecture:<10} "
            f"{format_parameter_count(info.parameter_count):>8} {info.quantization:<8} "
            f"{format_bytes(info.file_size):>9} {info.context_length or '-':>8}  {memory}")


def _entry_json(entry: LibraryEntry) -> dict:
    data = entry.to_dict()
    data["type"] = entry.info.model_type_label
    if entry.kind == "model":
        estimate = estimate_memory(entry.info)
        data["memory"] = {"verdict": estimate.verdict.value, "total_bytes": estimate.total_bytes,
                          "context_length": estimate.context_length,
                          "available_bytes": estimate.available_bytes}
    return data


def _info(library: ModelLibrary, model: str, as_json: bool) -> int:
    entry, path = library.resolve(model)
    info = entry.info if entry is not None else read_model_info(path)
    if as_json:
        data = _entry_json(entry) if entry else {"info": info.to_dict()}
        data["loadable"] = info.not_loadable_reason is None
        data["not_loadable_reason"] = info.not_loadable_reason
        print(json.dumps(data, indent=2))
        return 0
    _print_info(info, entry)
    return 0


def _print_info(info: ModelInfo, entry: LibraryEntry | None) -> None:
    rows = list(info.header_fields())
    if entry is not None:
        rows.insert(0, ("Library id", f"#{entry.id} ({entry.storage})"))
        if entry.is_missing:
            rows.append(("Status", "the file is missing"))
    rows.append(("Path", str(entry.path if entry else info.path)))
    not_loadable = info.not_loadable_reason
    if not_loadable is not None:  # said first and plainly: the rows below would suggest a model
        print(not_loadable + "\n")
        rows = [("Status", "not a loadable model")] + [row for row in rows if row[0] != "Type"]
    elif info.kind == "model":
        rows.append(("Memory", estimate_memory(info).explain()))
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    if info.chat_template:
        print("\nChat template:\n" + info.chat_template)


def _remove(library: ModelLibrary, args: argparse.Namespace) -> int:
    entry = library.get(args.id)
    delete_file = args.delete_file
    if entry.owns_file and not (args.delete_file or args.keep_file) and sys.stdin.isatty():
        answer = input(f"Also delete the copied file {entry.path} "
                       f"({format_bytes(entry.info.file_size)})? [y/N] ")
        delete_file = answer.strip().lower() in {"y", "yes"}
    library.remove(entry.id, delete_file=delete_file)
    deleted = " and deleted its file" if delete_file and entry.owns_file else ""
    print(f"Removed #{entry.id} {entry.display_name}{deleted}.")
    return 0
