"""The packaged app: bundle size on disk and cold start to a visible window.

Usage: python bench/package_bench.py BUNDLE_DIR [--runs 5] [--out bench/results/package_bench.json]
BUNDLE_DIR is the one-folder build (build/slmdesk-<version>-linux-<arch>/app after
packaging/build-linux.sh). Each start runs the frozen executable with no arguments (the window)
on the offscreen platform, in a fresh SLM Desk home, and times from launch to the moment the
window reports itself shown. The first start after a build is as cold as this machine allows
(the page cache is dropped first where permitted); the others are warm.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()
               and not path.is_symlink())


def drop_page_cache() -> bool:
    try:
        subprocess.run(["sync"], check=True)
        Path("/proc/sys/vm/drop_caches").write_text("3\n")
        return True
    except OSError:
        return False


def start_once(executable: Path) -> float:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", SLMDESK_STARTUP_PROBE="1",
               SLMDESK_HOME=tempfile.mkdtemp(prefix="slmdesk-start-"))
    launched = time.time()
    result = subprocess.run([str(executable)], env=env, capture_output=True, text=True,
                            timeout=300)
    for line in result.stderr.splitlines():
        if line.startswith("window visible at "):
            return float(line.split()[-1]) - launched
    raise RuntimeError(f"the window never reported itself shown:\n{result.stderr[-2000:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "package_bench.json"))
    args = parser.parse_args()
    executable = args.bundle / ("slmdesk.exe" if sys.platform == "win32" else "slmdesk")
    dropped = drop_page_cache()
    cold = start_once(executable)
    warm = [start_once(executable) for _ in range(args.runs)]
    result = {
        "bundle": str(args.bundle), "bundle_bytes": folder_bytes(args.bundle),
        "cold_start_to_window_s": round(cold, 2), "page_cache_dropped": dropped,
        "warm_start_to_window_s": {"median": round(statistics.median(warm), 2),
                                   "all": [round(value, 2) for value in warm]},
        "load_average": os.getloadavg(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
