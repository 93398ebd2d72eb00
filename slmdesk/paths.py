"""Where SLM Desk keeps its files.

Every location comes from appdirs so the app behaves like a good citizen on each platform,
and every one of them moves under ``$SLMDESK_HOME`` when that variable is set. Tests and
portable installs rely on that single switch to keep everything in one folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import appdirs

APP_NAME = "SLMDesk"
HOME_VARIABLE = "SLMDESK_HOME"


@dataclass(frozen=True)
class AppPaths:
    """The folders and files of one SLM Desk installation."""

    data_dir: Path
    config_dir: Path
    cache_dir: Path
    log_dir: Path

    @property
    def database(self) -> Path:
        return self.data_dir / "slmdesk.db"

    @property
    def models_dir(self) -> Path:
        """Model files copied into the library live here."""
        return self.data_dir / "models"

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"

    @property
    def downloads_dir(self) -> Path:
        """Files being downloaded from the Hub, until verified and moved into the library."""
        return self.data_dir / "downloads"

    def ensure(self) -> "AppPaths":
        """Create every folder (idempotent) and return self for chaining."""
        for folder in (self.data_dir, self.config_dir, self.cache_dir, self.log_dir,
                       self.models_dir, self.runs_dir, self.downloads_dir):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def app_paths() -> AppPaths:
    """The paths for this process, honouring ``$SLMDESK_HOME``."""
    home = os.environ.get(HOME_VARIABLE)
    if home:
        root = Path(home).expanduser().resolve()
        return AppPaths(data_dir=root / "data", config_dir=root / "config",
                        cache_dir=root / "cache", log_dir=root / "logs")
    return AppPaths(
        data_dir=Path(appdirs.user_data_dir(APP_NAME, appauthor=False)),
        config_dir=Path(appdirs.user_config_dir(APP_NAME, appauthor=False)),
        cache_dir=Path(appdirs.user_cache_dir(APP_NAME, appauthor=False)),
        log_dir=Path(appdirs.user_log_dir(APP_NAME, appauthor=False)),
    )
