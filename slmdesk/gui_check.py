"""``slmdesk --gui-check [SHOT_DIR]``: drive the real window as a person would, headless.

``--self-test`` proves the engine and training work through the plain-Python clients; this proves
the window's own child processes do too, in the same build (frozen or not). That matters
because the window starts its children through other code (QProcess), which a packaged app
broke once while the self-test passed. In a throw-away SLM Desk home, on Qt's offscreen platform
unless a display is asked for:

1. the Chat page: a question typed and sent, the reply streamed from the engine process;
2. the fine-tuning wizard's token preview: the sample note counted by the token-counter child;
3. Compare: the starter and an adapter trained for two steps answer the same question side by
   side, each from its own engine process.

Each step's result is printed; with SHOT_DIR, a screenshot of each page is saved there. Exits
0, or 1 with the failing step named.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

STEPS = ("set up the starter model", "chat page reply", "token preview",
         "train two steps for Compare", "compare both answers")
QUESTION = "What is the capital of France?"
TIMEOUT_MS = 600_000


def _log(text: str) -> None:
    print(f"gui-check: {text}", file=sys.stderr, flush=True)


def _wait(signal, timeout_ms: int = TIMEOUT_MS, until=None) -> bool:
    """Run the event loop until ``signal`` fires (and ``until()`` holds), or the time is up."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    fired = {"yes": False}

    def on_signal(*_args) -> None:
        if until is None or until():
            fired["yes"] = True
            loop.quit()

    signal.connect(on_signal)
    QTimer.singleShot(timeout_ms, loop.quit)
    if until is None or not until():
        loop.exec()
    else:
        fired["yes"] = True
    signal.disconnect(on_signal)
    return fired["yes"]


def _shot(window, shot_dir: Path | None, name: str) -> None:
    if shot_dir is not None:
        shot_dir.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(shot_dir / f"{name}.png"))


def run_gui_check(args: list[str]) -> int:
    shot_dir = Path(args[0]).resolve() if args else None
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    home = Path(tempfile.mkdtemp(prefix="slmdesk-gui-check-"))
    os.environ["SLMDESK_HOME"] = str(home)
    from PySide6.QtWidgets import QApplication

    from slmdesk.core.library.store import ModelLibrary
    from slmdesk.paths import app_paths
    from slmdesk.self_test import train_two_steps
    from slmdesk.ui.app import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    paths = app_paths().ensure()
    step = STEPS[0]
    started = time.perf_counter()
    window = None
    try:
        library = ModelLibrary.open(paths)
        starter = library.ensure_starter()
        library.close()
        _log(f"ok: {step} ({starter.info.display_name})")

        step = STEPS[1]
        window = MainWindow(paths, set_up_starter=False)
        window.resize(1180, 760)
        window.show()
        window.show_section("Chat")
        chat = window.chat_view
        chat.settings_panel.temperature.setValue(0.0)
        chat.settings_panel.max_tokens.setValue(24)
        chat.settings_panel.context_length.setValue(1024)
        chat.composer.setPlainText(QUESTION)
        streamed: list[str] = []
        chat.session.reply_changed.connect(lambda _id, text: streamed.append(text))
        chat.send()
        if not _wait(chat.session.reply_finished):
            raise RuntimeError("no reply within the time limit")
        reply = chat.store.thread(chat.conversation_id)[-1]
        if reply.status != "complete" or not reply.content.strip():
            raise RuntimeError(f"the reply ended {reply.status}: {chat.notice.text!r}")
        _shot(window, shot_dir, "chat")
        _log(f"ok: {step}: {reply.content.strip()[:80]!r} (streamed in {len(streamed)} parts, "
             f"CPU backend {chat.session.engine.ready_info.get('cpu_backend')})")

        step = STEPS[2]
        note = home / "sample_note.txt"
        note.write_text(resources.files("slmdesk.resources").joinpath("sample_note.txt")
                        .read_text(encoding="utf-8"), encoding="utf-8")
        window.show_section("Fine-tune")
        wizard = window.finetune_page.wizard
        if not wizard.restart(starter.id):
            raise RuntimeError("the wizard did not take the starter model")
        wizard.next_button.click()
        documents = wizard.documents_page
        documents.add_paths([note])
        if not _wait(documents.preview_finished) or not documents.preview_answer:
            raise RuntimeError("the token counter gave no answer")
        tokens = sum(item["tokens"] for item in documents.preview_answer["files"])
        if tokens <= 0:
            raise RuntimeError(f"the token counter answered {documents.preview_answer!r}")
        _shot(window, shot_dir, "token-preview")
        _log(f"ok: {step}: {tokens} tokens in the sample note")

        step = STEPS[3]
        adapter_id = train_two_steps(paths, starter, note)
        _log(f"ok: {step}: adapter {adapter_id} in the library")

        step = STEPS[4]
        window.finetune_page.compare(starter.id, adapter_id)
        compare = window.finetune_page.compare_view
        if not compare.ask(QUESTION):
            raise RuntimeError("Compare did not take the question")
        if not _wait(compare.both_finished, until=lambda: not compare.busy):
            raise RuntimeError("Compare did not finish within the time limit")
        answers = compare.answers()
        if not all(text.strip() for text in answers.values()):
            raise RuntimeError(f"an empty answer: {answers!r} ({compare.notice.text!r})")
        _shot(window, shot_dir, "compare")
        _log(f"ok: {step}: " + "; ".join(f"{name}: {text.strip()[:50]!r}"
                                          for name, text in answers.items()))
    except Exception as exc:  # every failure is reported with its step, never as a traceback
        _log(f"FAILED at step '{step}': {type(exc).__name__}: {exc}")
        return 1
    finally:
        if window is not None:
            window.close()
            window.library.close()
        app.processEvents()
    _log(f"all {len(STEPS)} steps passed in {time.perf_counter() - started:.0f} s")
    return 0
