"""Plain words for what the Hub or the network answered."""

from __future__ import annotations

import errno
from typing import Any

from slmdesk.core.errors import SlmdeskError


class HubError(SlmdeskError):
    """A Hub request failed; the message says what to do."""


class GatedRepoError(HubError):
    """The repository asks people to accept its terms (and log in) before downloading."""


class NotFoundError(HubError):
    """No such repository or file (HTTP 404)."""


class LoginRequiredError(HubError):
    """The Hub wants a token (HTTP 401): private, gated, or not there at all."""


class ConnectionLost(HubError):
    """The server stopped answering and did not come back after the retries."""


class DiskFull(HubError):
    """Not enough room for the file, before the start or while writing."""


def _status(exc: Any) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def explain(exc: BaseException, endpoint: str, repo_id: str,
            filename: str | None = None) -> HubError:
    """The HubError for an exception raised by huggingface_hub or httpx2 during a request."""
    import httpx2  # imported here: the window starts without the HTTP stack
    from huggingface_hub import errors as hub_errors

    page = f"{endpoint}/{repo_id}"
    detail = f"{type(exc).__name__}: {exc}"
    what = f"{filename} in {repo_id}" if filename else repo_id
    if isinstance(exc, hub_errors.GatedRepoError):
        return GatedRepoError(
            f"{repo_id} is gated: its authors ask you to accept their terms before you can "
            f"download it. Open {page} in a browser, log in and accept them, then give SLM Desk "
            "your access token (set HF_TOKEN, or run 'hf auth login') and try again.", detail)
    if isinstance(exc, hub_errors.HfHubHTTPError) and _status(exc) == 401:
        return LoginRequiredError(
            f"The Hub asks you to log in to get {what}: the repository is private or gated, or "
            "it does not exist. Check the name; if it is right, log in (set HF_TOKEN, or run "
            "'hf auth login') with an account that may read it.", detail)
    if isinstance(exc, hub_errors.RemoteEntryNotFoundError) or (
            filename and isinstance(exc, hub_errors.HfHubHTTPError) and _status(exc) == 404
            and not isinstance(exc, hub_errors.RepositoryNotFoundError)):
        return NotFoundError(f"{repo_id} has no file named {filename}. List its files with: "
                             f"slmdesk models files {repo_id}", detail)
    if isinstance(exc, (hub_errors.RepositoryNotFoundError, hub_errors.RevisionNotFoundError)) or (
            isinstance(exc, hub_errors.HfHubHTTPError) and _status(exc) == 404):
        return NotFoundError(f"There is no repository {repo_id} on {endpoint}. Check the "
                             "name (owner/name, as in the repository's address).", detail)
    if isinstance(exc, hub_errors.HfHubHTTPError) and _status(exc) == 403:
        return LoginRequiredError(f"The Hub refused access to {what} (403). Your token may "
                                  "lack the permission to read it.", detail)
    if isinstance(exc, hub_errors.HfHubHTTPError):
        return HubError(f"The Hub answered with an error ({_status(exc)}) for {what}. Try "
                        "again later.", detail)
    if isinstance(exc, httpx2.TimeoutException):
        return ConnectionLost(f"{endpoint} did not answer in time. Check your connection "
                              "and try again.", detail)
    if isinstance(exc, (httpx2.TransportError, ConnectionError)):
        return ConnectionLost(f"Could not reach {endpoint}. Check your connection (or "
                              "HF_ENDPOINT, if you use a mirror) and try again.", detail)
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return DiskFull("The disk is full. Free some space, then resume the download: the "
                        "part already downloaded is kept.", detail)
    return HubError(f"The request for {what} failed: {exc}", detail)
