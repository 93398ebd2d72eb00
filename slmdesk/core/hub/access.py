"""Where Hub requests go, and whether they may go at all.

``HF_ENDPOINT`` is read at each call (not once at import, as ``huggingface_hub`` does), so a
mirror set for SLM Desk is used even when another library imported the Hub client earlier.
The offline setting (and the Hub's own ``HF_HUB_OFFLINE``) turns every request off.
"""

from __future__ import annotations

import os
import sqlite3

from slmdesk.core.errors import SlmdeskError
from slmdesk.core.settings import get_setting, set_setting

DEFAULT_ENDPOINT = "https://huggingface.co"
OFFLINE_SETTING = "hub.offline"
_TRUE = {"1", "on", "yes", "true"}


class HubOffline(SlmdeskError):
    """Hub access is turned off; nothing was sent."""


def hub_endpoint() -> str:
    """The Hub's address for this process: ``HF_ENDPOINT`` when set, else huggingface.co."""
    return (os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def offline_by_environment() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def is_offline(conn: sqlite3.Connection) -> bool:
    """True when the person (or ``HF_HUB_OFFLINE``) has turned Hub access off."""
    return offline_by_environment() or bool(get_setting(conn, OFFLINE_SETTING, False))


def set_offline(conn: sqlite3.Connection, offline: bool) -> None:
    set_setting(conn, OFFLINE_SETTING, bool(offline))


def ensure_online(conn: sqlite3.Connection) -> str:
    """The endpoint to use, or HubOffline when access is off."""
    if offline_by_environment():
        raise HubOffline("Hub access is off: HF_HUB_OFFLINE is set in the environment. "
                         "Unset it to search or download models.")
    if get_setting(conn, OFFLINE_SETTING, False):
        raise HubOffline("Hub access is off (the offline setting). Turn it on in Get models, "
                         "or run: slmdesk models offline off")
    return hub_endpoint()


def describe_destination() -> str:
    """One sentence for the page: where requests go and when."""
    endpoint = hub_endpoint()
    mirror = "" if endpoint == DEFAULT_ENDPOINT else " (a mirror, set by HF_ENDPOINT)"
    return (f"Searches and downloads go to {endpoint}{mirror}, only when you search, open a "
            "repository or download. Nothing else leaves this computer.")
