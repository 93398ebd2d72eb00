"""``slmdesk docs add|list|index|search|files|remove``: document collections for chat, headless."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from slmdesk.core import db
from slmdesk.core.documents.embedding import ChildEmbedder, open_embedder
from slmdesk.core.documents.index import DocumentIndex, IndexReport
from slmdesk.core.documents.search import search
from slmdesk.paths import app_paths


def add_docs_parser(commands: argparse._SubParsersAction) -> None:
    docs = commands.add_parser("docs", help="document collections to chat with (search with citations)")
    actions = docs.add_subparsers(dest="action", required=True, metavar="ACTION")
    adding = actions.add_parser("add", help="create a collection (or add to one) and index it")
    adding.add_argument("name")
    adding.add_argument("paths", nargs="+", metavar="PATH", help="folders (watched for new files) or files")
    listing = actions.add_parser("list", help="list collections")
    listing.add_argument("--json", action="store_true")
    indexing = actions.add_parser("index", help="index again: only changed, new and deleted files")
    indexing.add_argument("name")
    indexing.add_argument("--rebuild", action="store_true", help="read every file again")
    searching = actions.add_parser("search", help="the passages that answer a question")
    searching.add_argument("name")
    searching.add_argument("query")
    searching.add_argument("-k", "--limit", type=int, default=4)
    searching.add_argument("--json", action="store_true")
    files = actions.add_parser("files", help="the files that could not be read, with the reason")
    files.add_argument("name")
    removing = actions.add_parser("remove", help="delete a collection and its index (not the files)")
    removing.add_argument("name")


def run_docs(args: argparse.Namespace) -> int:
    conn = db.connect(app_paths().database)
    index = DocumentIndex(conn)
    try:
        if args.action == "add":
            existing = {collection.name.lower() for collection in index.collections()}
            if args.name.lower() in existing:
                index.add_paths(args.name, args.paths)
            else:
                index.create(args.name, args.paths)
            return _index(index, args.name, rebuild=False)
        if args.action == "index":
            return _index(index, args.name, rebuild=args.rebuild)
        if args.action == "list":
            collections = index.collections()
            if args.json:
                print(json.dumps([{"name": c.name, "status": c.status, "sources": list(c.sources),
                                   "files": c.files, "skipped": c.skipped, "passages": c.passages,
                                   "indexed_at": c.indexed_at} for c in collections], indent=2))
            elif not collections:
                print("No collections yet: slmdesk docs add NAME FOLDER")
            for c in collections if not args.json else []:
                print(f"{c.name}: {c.files} files, {c.passages} passages"
                      + (f", {c.skipped} unreadable" if c.skipped else "") + f" [{c.status}]")
                for source in c.sources:
                    print(f"    {source}")
            return 0
        if args.action == "search":
            collection = index.get(args.name)
            with closing_embedder() as embedder:
                passages = search(conn, [collection.id], args.query, limit=args.limit, embedder=embedder)
            if args.json:
                print(json.dumps([p.to_json() for p in passages], indent=2))
            elif not passages:
                print("No relevant passages.")
            for number, passage in enumerate(passages if not args.json else [], start=1):
                print(f"[{number}] {passage.citation()}\n    {passage.text}\n")
            return 0
        if args.action == "files":
            for skipped in index.skipped_files(args.name):
                print(f"{skipped.path}: {skipped.reason}")
            return 0
        index.delete(args.name)
        print(f"Removed the collection \u201c{args.name}\u201d (your files are untouched).")
        return 0
    finally:
        conn.close()


@contextmanager
def closing_embedder() -> Iterator[ChildEmbedder | None]:
    """The embedder (None when its model is not installed), closed afterwards."""
    embedder = open_embedder(app_paths())
    try:
        yield embedder
    finally:
        if embedder is not None:
            embedder.close()


def _index(index: DocumentIndex, name: str, *, rebuild: bool) -> int:
    interactive = sys.stderr.isatty()

    def progress(done: int, total: int) -> bool:
        if interactive and total:
            sys.stderr.write(f"\rIndexing {done}/{total}")
            sys.stderr.flush()
        return True

    try:
        with closing_embedder() as embedder:
            report = index.update(name, progress, rebuild=rebuild, embedder=embedder)
    except KeyboardInterrupt:
        print("\nInterrupted: the files indexed so far are searchable; run `slmdesk docs index "
              f"{name}` to finish.", file=sys.stderr)
        return 130
    if interactive:
        sys.stderr.write("\n")
    _print_report(index, name, report)
    return 0


def _print_report(index: DocumentIndex, name: str, report: IndexReport) -> None:
    collection = index.get(name)
    print(f"{collection.name}: {report.summary()}; {collection.files} files, {collection.passages} passages.")
    for skipped in report.skipped:
        print(f"  not indexed: {skipped.path}: {skipped.reason}")
