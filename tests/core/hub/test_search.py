"""Hub search and file listing through the real huggingface_hub, against a loopback Hub."""

from __future__ import annotations

import pytest

from slmdesk.core.hub.access import describe_destination, hub_endpoint
from slmdesk.core.hub.errors import LoginRequiredError, NotFoundError
from slmdesk.core.hub.search import list_gguf_files, quantization_of, search_gguf_repos
from slmdesk.core.library.memory import Verdict
from tests.hub_server import COMMIT, HubFileSpec, start_loopback_hub


@pytest.fixture
def hub(monkeypatch, tmp_path):
    server = start_loopback_hub(monkeypatch, tmp_path)
    server.add_file("test/Small-GGUF", "small-Q4_K_M.gguf", HubFileSpec(b"a" * 1000),
                    downloads=50)
    server.add_file("test/Small-GGUF", "small-Q8_0.gguf", HubFileSpec(b"b" * 2000))
    server.add_file("test/Small-GGUF", "small-IQ4_XS-00001-of-00002.gguf",
                    HubFileSpec(b"c" * 500))
    server.add_file("other/Big-GGUF", "big-F16.gguf", HubFileSpec(b"d" * 10), downloads=5)
    yield server
    server.__exit__()


def test_search_finds_gguf_repositories_most_downloaded_first(hub):
    found = search_gguf_repos(hub_endpoint(), "gguf")
    assert [repo.repo_id for repo in found] == ["test/Small-GGUF", "other/Big-GGUF"]
    assert found[0].downloads == 50
    request = next(r for r in hub.requests if r.startswith("GET /api/models?"))
    assert "filter=gguf" in request and "search=gguf" in request


def test_files_list_sizes_quantizations_and_checksums(hub):
    listing = list_gguf_files(hub_endpoint(), "test/Small-GGUF")
    assert listing.revision == COMMIT and listing.license == "apache-2.0"
    by_name = {file.filename: file for file in listing.files}
    assert set(by_name) == {"small-Q4_K_M.gguf", "small-Q8_0.gguf",
                            "small-IQ4_XS-00001-of-00002.gguf"}  # README.md left out
    assert by_name["small-Q8_0.gguf"].size == 2000
    assert by_name["small-Q8_0.gguf"].quantization == "Q8_0"
    assert len(by_name["small-Q8_0.gguf"].sha256) == 64
    split = by_name["small-IQ4_XS-00001-of-00002.gguf"]
    assert split.is_split and split.quantization == "IQ4_XS"
    assert by_name["small-Q4_K_M.gguf"].estimate(available_bytes=10**12).verdict == Verdict.FITS


def test_a_missing_and_a_private_repository_get_different_messages(hub):
    with pytest.raises(NotFoundError, match="There is no repository nobody/none"):
        list_gguf_files(hub_endpoint(), "nobody/none")
    hub.add_file("secret/Private-GGUF", "x-Q4_0.gguf", HubFileSpec(b"x"), status=401)
    with pytest.raises(LoginRequiredError, match="log in"):
        list_gguf_files(hub_endpoint(), "secret/Private-GGUF")


def test_hf_endpoint_is_honoured_and_named(hub):
    assert hub_endpoint() == hub.url
    assert hub.url in describe_destination() and "mirror" in describe_destination()


@pytest.mark.parametrize(("name", "quantization"), [
    ("qwen2.5-0.5b-instruct-q4_k_m.gguf", "Q4_K_M"),
    ("Llama-3.2-1B-Instruct-Q8_0.gguf", "Q8_0"),
    ("model-IQ2_XXS.gguf", "IQ2_XXS"),
    ("model-fp16.gguf", "F16"),
    ("model-BF16.gguf", "BF16"),
    ("folder/Q5_K_S/model-Q5_K_S.gguf", "Q5_K_S"),
    ("model.gguf", ""),
])
def test_quantization_is_read_from_the_file_name(name, quantization):
    assert quantization_of(name) == quantization


def test_a_hub_that_takes_no_connection_is_reported_at_once_without_retry_lines(capsys):
    """Offline, huggingface_hub retried for about 25 s and printed a line per retry."""
    import socket
    import time

    from slmdesk.core.hub.errors import ConnectionLost

    with socket.socket() as closed:  # a loopback port nobody listens on
        closed.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{closed.getsockname()[1]}"
    started = time.monotonic()
    for ask in (lambda: search_gguf_repos(endpoint, "qwen"),
                lambda: list_gguf_files(endpoint, "someone/model-GGUF")):
        with pytest.raises(ConnectionLost, match="slmdesk models offline on"):
            ask()
    assert time.monotonic() - started < 10
    assert "Retry" not in capsys.readouterr().err
