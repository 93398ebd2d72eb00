"""The launcher's words for how a child ended, and a real child killed by SIGILL."""

from __future__ import annotations

import signal

import pytest

from slmdesk.core.engine.client import EngineClient, EngineCrashed
from slmdesk.core.processes import Child, describe_exit
from tests.core.engine.sigill_host import MODULE as SIGILL_HOST


def test_sigill_names_the_library_the_processor_and_what_to_do():
    ended = describe_exit(Child.ENGINE, -int(signal.SIGILL), cpu_backend="zen4")
    assert ended.signal_name == "SIGILL" and not ended.restart_helps
    assert "llama.cpp" in ended.message and "zen4" in ended.message
    assert "processor does not have" in ended.message
    assert "Reinstall SLM Desk" in ended.message and "Restarting will not help" in ended.message


def test_training_sigill_names_pytorch_and_qt_style_signal_numbers_work():
    ended = describe_exit(Child.TRAINING, None, signal_number=int(signal.SIGILL))
    assert ended.message.startswith("The training process stopped unexpectedly: PyTorch tried "
                                    "to run an instruction")


@pytest.mark.parametrize(("code", "words", "helps"), [
    (-int(signal.SIGKILL), "ran out of memory", True),
    (-int(signal.SIGSEGV), "segmentation fault", True),
    (3, "stopped unexpectedly (exit code 3)", True),
    (-int(signal.SIGUSR1), "was stopped by SIGUSR1", True),
])
def test_other_ends_are_told_apart(code, words, helps):
    ended = describe_exit(Child.ENGINE, code)
    assert words in ended.message and ended.restart_helps is helps


@pytest.mark.slow
def test_an_engine_killed_by_sigill_is_reported_in_plain_words(tmp_path):
    with EngineClient(module=SIGILL_HOST) as engine:
        assert engine.ready["cpu_backend"]  # the real host chose a CPU backend first
        with pytest.raises(EngineCrashed) as crash:
            engine.load(tmp_path / "any.gguf", timeout=60)
    assert crash.value.returncode == -int(signal.SIGILL)
    assert crash.value.exit.signal_name == "SIGILL" and not crash.value.exit.restart_helps
    assert "processor does not have" in str(crash.value)
    assert engine.ready["cpu_backend"] in str(crash.value)
