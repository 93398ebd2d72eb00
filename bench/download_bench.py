"""Get models' download loop against hf_hub_download on the tests' loopback Hub, and the cost of
a resume (hashing the part already on disk).

Usage: python bench/download_bench.py [MEGABYTES]   (run from the repository root)
Both clients read the same file from the same Python server on 127.0.0.1, so the figures
compare the clients on this machine, not a real network.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path


def main(megabytes: int = 256) -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.hub_server import HubFileSpec, LoopbackHub

    work = Path(tempfile.mkdtemp(prefix="slmdesk-bench-"))
    data = os.urandom(megabytes * 1024 * 1024)
    with LoopbackHub() as hub:
        os.environ["HF_ENDPOINT"] = hub.url
        os.environ["HF_HOME"] = str(work / "hf-home")
        hub.add_file("bench/Big-GGUF", "big-Q4_K_M.gguf", HubFileSpec(data))
        from huggingface_hub import hf_hub_download

        from slmdesk.core.hub.downloads import describe_remote_file
        from slmdesk.core.hub.transfer import TransferControl, fetch, hash_existing

        remote = describe_remote_file(hub.url, "bench/Big-GGUF", "big-Q4_K_M.gguf")
        start = time.perf_counter()
        sha = fetch(remote.url, work / "ours.partial", headers={}, expected_size=remote.size,
                    control=TransferControl())
        ours = time.perf_counter() - start
        assert sha == remote.sha256
        start = time.perf_counter()
        hf_hub_download("bench/Big-GGUF", "big-Q4_K_M.gguf", local_dir=work / "theirs",
                        endpoint=hub.url)
        theirs = time.perf_counter() - start
        start = time.perf_counter()
        hash_existing(work / "ours.partial", hashlib.sha256().update, TransferControl(), None,
                      None)
        rehash = time.perf_counter() - start
    size = megabytes * 1024 * 1024 / 1e6
    results = Path(__file__).parent / "results" / "download_bench.json"
    results.parent.mkdir(exist_ok=True)
    results.write_text(json.dumps({"megabytes": size, "ours_seconds": round(ours, 3),
                                   "hf_hub_download_seconds": round(theirs, 3),
                                   "rehash_seconds": round(rehash, 3)}, indent=2) + "\n")
    print(f"{megabytes} MiB over loopback: our loop {ours:.2f} s ({size / ours:.0f} MB/s, "
          f"SHA-256 included), hf_hub_download {theirs:.2f} s ({size / theirs:.0f} MB/s, no "
          f"checksum); re-hashing the part on disk for a resume: {rehash:.2f} s "
          f"({size / rehash:.0f} MB/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 256))
