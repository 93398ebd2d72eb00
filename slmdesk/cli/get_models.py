"""``slmdesk models search|files|download|offline``: Get models, headless.

The same core as the window's Get models page. ``download`` resumes a partial download of the
same file, shows progress with speed and time left on stderr, pauses on Ctrl-C (run the same
command again to resume), and prints the new library id on success.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from slmdesk.core import db
from slmdesk.core.gguf.info import format_bytes
from slmdesk.core.hub.access import ensure_online, is_offline, set_offline
from slmdesk.core.hub.downloads import run_download, start_download
from slmdesk.core.hub.search import list_gguf_files, search_gguf_repos
from slmdesk.core.hub.store import DownloadStore
from slmdesk.core.hub.transfer import TransferProgress
from slmdesk.paths import app_paths

HUB_ACTIONS = ("search", "files", "download", "offline")


def add_hub_parsers(actions: Any) -> None:
    """The Get-models actions under ``slmdesk models``."""
    search = actions.add_parser("search", help="search the Hugging Face Hub for GGUF models")
    search.add_argument("query")
    search.add_argument("--json", action="store_true", help="machine-readable output")
    files = actions.add_parser("files", help="list a Hub repository's GGUF files")
    files.add_argument("repo", metavar="REPO", help="owner/name, as in the repository's address")
    files.add_argument("--json", action="store_true")
    download = actions.add_parser(
        "download", help="download a GGUF file from the Hub into the library (resumes)")
    download.add_argument("repo", metavar="REPO")
    download.add_argument("file", metavar="FILE")
    download.add_argument("--json", action="store_true",
                          help="print the new library entry as JSON")
    offline = actions.add_parser("offline", help="turn Hub access off or on")
    offline.add_argument("state", nargs="?", choices=("on", "off"),
                         help="on: never contact the Hub; off: allow it (no state: show it)")


def run_hub_action(args: argparse.Namespace) -> int:
    paths = app_paths().ensure()
    conn = db.connect(paths.database)
    try:
        if args.action == "offline":
            if args.state is not None:
                set_offline(conn, args.state == "on")
            print("Hub access is off (offline)." if is_offline(conn) else "Hub access is on.")
            return 0
        endpoint = ensure_online(conn)
        if args.action == "search":
            return _search(endpoint, args.query, args.json)
        if args.action == "files":
            return _files(endpoint, args.repo, args.json)
        download = start_download(DownloadStore(conn), paths, args.repo, args.file)
    finally:
        conn.close()
    if download.bytes_on_disk:
        print(f"Resuming {args.file}: {format_bytes(download.bytes_on_disk)} already here.",
              file=sys.stderr)
    try:
        entry = run_download(paths, download.id, progress=_ProgressLine())
    except KeyboardInterrupt:
        print(f"\nPaused. Run the same command again to resume {args.file}.", file=sys.stderr)
        return 130
    print(file=sys.stderr)
    if args.json:
        print(json.dumps({"id": entry.id, "path": str(entry.path),
                          "display_name": entry.display_name, "download_id": download.id}))
    else:
        print(f"Added #{entry.id} {entry.display_name}: {entry.path}")
    return 0


def _search(endpoint: str, query: str, as_json: bool) -> int:
    found = search_gguf_repos(endpoint, query)
    if as_json:
        print(json.dumps([repo.to_dict() for repo in found], indent=2))
        return 0
    if not found:
        print(f"No GGUF repository on {endpoint} matches \u201c{query}\u201d.")
        return 0
    print(f"{'REPOSITORY':<56} {'DOWNLOADS':>10}  NOTE")
    for repo in found:
        print(f"{repo.repo_id:<56} {repo.downloads:>10}  {'gated' if repo.gated else ''}")
    return 0


def _files(endpoint: str, repo_id: str, as_json: bool) -> int:
    listing = list_gguf_files(endpoint, repo_id)
    if as_json:
        data = listing.to_dict()
        for item, file in zip(data["files"], listing.files, strict=True):
            estimate = file.estimate()
            item["memory"] = {"verdict": estimate.verdict.value,
                              "at_least_bytes": estimate.total_bytes,
                              "available_bytes": estimate.available_bytes}
        print(json.dumps(data, indent=2))
        return 0
    print(f"{repo_id} (license: {listing.license or 'not stated'}"
          f"{', gated' if listing.gated else ''})")
    if not listing.files:
        print("This repository has no GGUF files.")
        return 0
    for file in listing.files:
        size = format_bytes(file.size) if file.size else "?"
        note = f"  part of {file.split_parts}" if file.is_split else ""
        verdict = file.estimate().verdict.label
        print(f"  {file.quantization or '-':<8} {size:>9}  {verdict:<13} {file.filename}{note}")
    return 0


class _ProgressLine:
    """One line on stderr, rewritten in place on a terminal, every few percent otherwise."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.last_percent = -10

    def __call__(self, state: TransferProgress) -> None:
        percent = int((state.fraction or 0) * 100)
        if not self.tty and percent < self.last_percent + 10 and state.phase == "downloading":
            return
        self.last_percent = percent
        print(("\r" if self.tty else "") + state.describe().ljust(78),
              end="" if self.tty else "\n", file=sys.stderr, flush=True)
