"""The engine process: one llama.cpp model behind the JSON-lines protocol.

Run as ``python -m slmdesk.core.engine.host``. Requests arrive on stdin, events leave on stdout
(see :mod:`slmdesk.core.engine.protocol`). This is the only module of SLM Desk that imports
llama_cpp, so a crash in native code (a bad model file, out of memory) takes down this process
and never the window.

Design notes:

* stdout belongs to the protocol. At start the host keeps a private duplicate of file
  descriptor 1 for its events and points fd 1 (and ``sys.stdout``) at stderr, so nothing
  printed by llama.cpp or a library can corrupt the event stream.
* stdin is read on its own thread. Requests go to a queue served one at a time by the main
  thread, except ``cancel``, which the reader applies at once: it sets a flag that generation
  checks before every token.
* Prompts are rendered by :mod:`slmdesk.core.engine.chat_format` (the same text fine-tuning uses) and
  counted with the model's tokenizer before generation, so a conversation longer than the
  context loses its oldest turns instead of failing.
* ``complete`` continues raw text with ``create_completion`` (no chat format). A text longer
  than the context keeps its end: for a continuation the words just before it matter most, and
  a notebook that stopped working once it grew long would be worse than one that forgets its
  first page (``done.truncated_tokens`` says how much was left out).
* LoRA adapters are attached to the live context with ``llama_set_adapters_lora``, so changing
  the adapters or their scales does not reload the base model.
"""

from __future__ import annotations

import ctypes
import os
import queue
import sys
import threading
import time
import traceback
from typing import Any, BinaryIO, Callable, Literal

from slmdesk.core.engine import chat_format as cf
from slmdesk.core.engine import protocol as p
from slmdesk.core.engine.cpu_backend import CpuBackendError, import_llama_cpp

#: The request's sampling fields that llama-cpp-python takes as they are.
SAMPLING_FIELDS = ("temperature", "top_p", "top_k", "repeat_penalty", "presence_penalty",
                   "frequency_penalty", "seed")


class _Failure(Exception):
    """A request that cannot be served, with words for the user."""

    def __init__(self, code: str, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.code, self.message, self.detail = code, message, detail


def _take_stdout() -> BinaryIO:
    """Keep the real stdout for events and send every other write to fd 1 to stderr."""
    protocol_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(protocol_fd, "wb", buffering=0)


class _Timing:
    """A pass-through logits processor that clocks every sampled token."""

    def __init__(self) -> None:
        self.count, self.first, self.last = 0, 0.0, 0.0

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        self.last = time.perf_counter()
        self.first = self.first or self.last
        self.count += 1
        return scores

    def tokens_per_second(self) -> float | None:
        if self.count < 2 or self.last <= self.first:
            return None
        return round((self.count - 1) / (self.last - self.first), 2)


class EngineHost:
    """Serves protocol requests with at most one loaded model."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._out_lock = threading.Lock()
        self._requests: queue.Queue[dict[str, Any]] = queue.Queue()
        self._state_lock = threading.Lock()
        self._current_chat: str | None = None
        self._cancelled: set[str] = set()
        self._cancel = threading.Event()
        self._stopping = threading.Event()  # shutdown requested or stdin closed
        self._llama: Any = None  # the llama_cpp module, imported in run()
        self.llm: Any = None
        self.model_path = ""
        self.choice: cf.ChatFormatChoice | None = None
        self._render: Callable[[list[dict[str, Any]]], tuple[str, bool, list[str]]] | None = None
        self._adapter_handles: dict[str, Any] = {}
        self._adapters: list[tuple[str, float]] = []

    # --- plumbing ------------------------------------------------------------------------------

    def send(self, msg: Any) -> None:
        line = p.encode(msg)
        with self._out_lock:
            try:
                self._out.write(line)
            except (BrokenPipeError, ValueError):
                pass  # the client is gone; the reader thread will see EOF and shut us down

    def _error(self, req_id: str | None, code: str, message: str, detail: str = "") -> None:
        self.send(p.ErrorEvent(id=req_id, message=message, detail=detail, code=code))

    def _read_stdin(self) -> None:
        for raw in sys.stdin.buffer:
            if not raw.strip():
                continue
            try:
                req = p.decode(raw)
            except p.ProtocolError as exc:
                self._error(None, "bad_request", "The engine received a message it does not "
                            "understand.", f"{exc}: {raw[:200]!r}")
                continue
            if req["type"] not in p.REQUESTS:
                self._error(req.get("id"), "bad_request", "The engine only accepts requests.",
                            f"got event type {req['type']!r}")
            elif req["type"] == "cancel":
                self._request_cancel(req["id"])
            else:
                if req["type"] == "shutdown":
                    self._stop()
                self._requests.put(req)
        self._stop()
        self._requests.put({"type": "shutdown", "id": ""})

    def _stop(self) -> None:
        """A reply in progress or queued must not delay the exit."""
        with self._state_lock:
            self._stopping.set()
            self._cancel.set()

    def _request_cancel(self, target: str) -> None:
        with self._state_lock:
            if self._current_chat == target:
                self._cancel.set()
            else:  # not started yet: remembered, so the chat ends as soon as it begins
                self._cancelled.add(target)
                if len(self._cancelled) > 1000:
                    self._cancelled.clear()

    def run(self) -> int:
        try:
            llama_cpp, cpu_backend = import_llama_cpp()
        except CpuBackendError as exc:
            self._error(None, "no_engine", str(exc), _detail(exc))
            return 1
        except Exception as exc:  # a missing or broken native build
            self._error(None, "no_engine", "The language model engine (llama-cpp-python) could "
                        "not start. Reinstall SLM Desk.", _detail(exc))
            return 1
        self._llama = llama_cpp
        print(f"slmdesk engine: llama.cpp CPU backend {cpu_backend.name} "
              f"(scores here: {cpu_backend.scores})", file=sys.stderr, flush=True)
        threading.Thread(target=self._read_stdin, name="stdin-reader", daemon=True).start()
        self.send(p.ReadyEvent(id=None, pid=os.getpid(), llama_cpp_version=llama_cpp.__version__,
                               cpu_backend=cpu_backend.name))
        try:
            while True:
                req = self._requests.get()
                if req["type"] == "shutdown":
                    return 0
                self._handle(req)
        finally:
            self._unload()

    def _handle(self, req: dict[str, Any]) -> None:
        handler = {"load": self._on_load, "unload": self._on_unload,
                   "set_adapters": self._on_set_adapters, "chat": self._on_chat,
                   "complete": self._on_complete}[req["type"]]
        try:
            handler(req)
        except _Failure as exc:
            self._error(req["id"], exc.code, exc.message, exc.detail)
        except Exception as exc:  # never let one request end the host
            self._error(req["id"], "internal", "Something went wrong in the language model "
                        "engine.", _detail(exc))

    # --- model and adapters --------------------------------------------------------------------

    def _on_load(self, req: dict[str, Any]) -> None:
        self._unload()
        start = time.perf_counter()
        path = req["model_path"]
        if not os.path.isfile(path):
            raise _Failure("bad_model", f"The model file {path} was not found. It may have been "
                           "moved or deleted; import it again.")
        try:
            llm = self._llama.Llama(model_path=path, n_ctx=req["n_ctx"],
                                    n_threads=req["n_threads"] or default_threads(),
                                    verbose=False)
        except Exception as exc:
            raise _Failure("bad_model", "SLM Desk could not open this model file. It may be "
                           "damaged or incomplete, or need a newer version of SLM Desk. Try "
                           "downloading it again.", _detail(exc)) from exc
        meta = llm.metadata
        hint = f"{meta.get('general.name', '')} {meta.get('general.basename', '')} " \
               f"{os.path.basename(path)}"
        try:
            choice = cf.choose_chat_format(
                meta.get("general.architecture", ""), meta.get("tokenizer.chat_template"),
                hint, req["chat_format"], meta.get("tokenizer.ggml.pre"))
        except cf.UnknownChatFormat as exc:
            llm.close()
            raise _Failure("chat_format", str(exc)) from exc
        self.llm, self.model_path, self.choice = llm, path, choice
        self._render = self._make_renderer(choice)
        llm.chat_handler = self._llama.llama_chat_format.chat_formatter_to_chat_completion_handler(
            self._formatter
        )
        try:
            self._set_adapters(req["adapters"])
        except _Failure:
            self._unload()
            raise
        self.send(p.LoadedEvent(
            id=req["id"], model_path=path, chat_format=choice.name,
            chat_format_description=choice.description, n_ctx=llm.n_ctx(),
            load_seconds=round(time.perf_counter() - start, 3),
            adapters=[p.AdapterSpec(a, s) for a, s in self._adapters],
        ))

    def _on_unload(self, req: dict[str, Any]) -> None:
        self._unload()
        self.send(p.UnloadedEvent(id=req["id"]))

    def _on_set_adapters(self, req: dict[str, Any]) -> None:
        self._require_model()
        self._set_adapters(req["adapters"])
        self.send(p.AdaptersSetEvent(
            id=req["id"], adapters=[p.AdapterSpec(a, s) for a, s in self._adapters]))

    def _require_model(self) -> None:
        if self.llm is None:
            raise _Failure("no_model", "No model is loaded. Choose a model first.")

    def _set_adapters(self, specs: list[dict[str, Any]]) -> None:
        """Attach exactly ``specs`` to the context, loading new files and freeing unused ones."""
        lc = self._llama
        wanted: dict[str, float] = {}
        for spec in specs:
            wanted[os.path.abspath(spec["path"])] = float(spec["scale"])
        handles = dict(self._adapter_handles)
        fresh: list[str] = []
        try:
            for path in wanted:
                if path in handles:
                    continue
                if not os.path.isfile(path):
                    raise _Failure("bad_adapter", f"The adapter file {path} was not found.")
                handle = lc.llama_adapter_lora_init(self.llm._model.model, path.encode("utf-8"))
                if not handle:
                    raise _Failure("bad_adapter", f"The adapter {os.path.basename(path)} could "
                                   "not be loaded. It may be damaged, or made for a different "
                                   "base model.", f"llama_adapter_lora_init failed for {path}")
                handles[path] = handle
                fresh.append(path)
            n = len(wanted)
            array = (lc.llama_adapter_lora_p_ctypes * n)(*(handles[a] for a in wanted))
            scales = (ctypes.c_float * n)(*wanted.values())
            if lc.llama_set_adapters_lora(self.llm._ctx.ctx, array, n, scales) != 0:
                raise _Failure("bad_adapter", "The adapters could not be applied to this model.",
                               "llama_set_adapters_lora returned an error")
        except _Failure:
            for path in fresh:
                lc.llama_adapter_lora_free(handles.pop(path))
            raise
        for path in [a for a in handles if a not in wanted]:
            lc.llama_adapter_lora_free(handles.pop(path))
        self._adapter_handles, self._adapters = handles, list(wanted.items())
        # llama-cpp-python reuses the evaluated prompt prefix; with new weights it is stale.
        self.llm.reset()

    def _unload(self) -> None:
        if self.llm is None:
            return
        lc = self._llama
        try:
            lc.llama_set_adapters_lora(self.llm._ctx.ctx, None, 0, None)
            for handle in self._adapter_handles.values():
                lc.llama_adapter_lora_free(handle)
        finally:
            self._adapter_handles, self._adapters = {}, []
            llm, self.llm, self.choice, self._render = self.llm, None, None, None
            self.model_path = ""
            llm.close()

    # --- chat ----------------------------------------------------------------------------------

    def _make_renderer(self, choice: cf.ChatFormatChoice
                       ) -> Callable[[list[dict[str, Any]]], tuple[str, bool, list[str]]]:
        """messages -> (prompt, prompt already holds BOS, stop strings)."""
        if choice.name != cf.EMBEDDED:
            stop = [cf.end_of_turn_text(choice.name)]
            return lambda messages: (cf.format_prompt(choice.name, messages), False, stop)
        llm = self.llm
        template = llm.metadata["tokenizer.chat_template"]
        eos = _token_text(llm, llm.token_eos())
        bos = _token_text(llm, llm.token_bos())
        stop = [eos] if eos else []

        def render(messages: list[dict[str, Any]]) -> tuple[str, bool, list[str]]:
            prompt = cf.render_chat_template(template, messages, bos_token=bos, eos_token=eos)
            return prompt, True, stop

        return render

    def _prompt(self, messages: list[dict[str, Any]]) -> tuple[str, bool, list[str]]:
        assert self._render is not None  # set with the model (see _require_model)
        try:
            return self._render(messages)
        except cf.ChatTemplateError as exc:
            raise _Failure("chat_format", str(exc), _detail(exc)) from exc

    def _formatter(self, *, messages: list[dict[str, Any]], **_: Any) -> Any:
        """The llama-cpp-python chat formatter: our prompt, plus a cancel check per token."""
        prompt, added_special, stop = self._prompt(messages)
        cancel = self._cancel
        return self._llama.llama_chat_format.ChatFormatterResponse(
            prompt=prompt,
            stop=stop,
            added_special=added_special,
            stopping_criteria=self._llama.llama.StoppingCriteriaList([lambda *_: cancel.is_set()]),
        )

    def _count(self, messages: list[dict[str, Any]]) -> int:
        prompt, added_special, _ = self._prompt(messages)
        return len(self.llm.tokenize(prompt.encode("utf-8"), add_bos=not added_special,
                                     special=True))

    def _fit(self, messages: list[dict[str, Any]], max_tokens: int
             ) -> tuple[list[dict[str, Any]], int, int, int]:
        """Drop the oldest turns until prompt + reply fit the context.

        Returns (messages, prompt_tokens, dropped_turns, max_tokens). System messages and the
        latest user message are always kept; a turn is a user message with the replies after it.
        """
        n_ctx = self.llm.n_ctx()
        reserve = max_tokens if max_tokens > 0 else min(512, n_ctx // 4)
        msgs, dropped = list(messages), 0
        n = self._count(msgs)
        while n + reserve > n_ctx:
            users = [i for i, m in enumerate(msgs) if m["role"] == "user"]
            last = users[-1] if users else len(msgs)
            first = next((i for i in range(last) if msgs[i]["role"] != "system"), None)
            if first is None:
                break
            end = first + 1
            while end < last and msgs[end]["role"] == "assistant":
                end += 1
            del msgs[first:end]
            dropped += 1
            n = self._count(msgs)
        if n + reserve > n_ctx:
            if n + min(reserve, 16) > n_ctx:
                raise _Failure("context_full", f"This message is too long for the model's "
                               f"context ({n} tokens, the context holds {n_ctx}). Shorten it, "
                               "or choose a longer context in Settings.")
            reserve = n_ctx - n  # keep the whole message and reply in what is left
        return msgs, n, dropped, reserve

    def _on_chat(self, req: dict[str, Any]) -> None:
        self._cancellable(req, self._chat)

    def _on_complete(self, req: dict[str, Any]) -> None:
        self._cancellable(req, self._complete)

    def _cancellable(self, req: dict[str, Any], serve: Callable[[dict[str, Any]], None]) -> None:
        """Serve a generating request as the one a ``cancel`` with its id stops."""
        chat_id = req["id"]
        with self._state_lock:
            self._current_chat = chat_id
            self._cancel.clear()
            if chat_id in self._cancelled or self._stopping.is_set():
                self._cancelled.discard(chat_id)
                self._cancel.set()
        try:
            serve(req)
        finally:
            with self._state_lock:
                self._current_chat = None

    def _chat(self, req: dict[str, Any]) -> None:
        self._require_model()
        start = time.perf_counter()
        params = req["params"]
        messages = [{"role": m["role"], "content": m["content"]} for m in req["messages"]]
        messages, prompt_tokens, dropped, max_tokens = self._fit(messages, params["max_tokens"])
        timing = _Timing()
        parts: list[str] = []
        finish = "stop"
        if not self._cancel.is_set():
            stream = self.llm.create_chat_completion(
                messages=messages,
                stream=True,
                max_tokens=max_tokens,
                stop=list(params["stop"]),
                **{k: params[k] for k in SAMPLING_FIELDS},
                logits_processor=self._llama.llama.LogitsProcessorList([timing]),
            )
            try:
                for chunk in stream:
                    if self._cancel.is_set():
                        break
                    choice = chunk["choices"][0]
                    piece = choice.get("delta", {}).get("content")
                    if piece:
                        parts.append(piece)
                        self.send(p.TokenEvent(id=req["id"], text=piece))
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
            finally:
                stream.close()
        reason: Literal["stop", "length", "cancelled"] = (
            "cancelled" if self._cancel.is_set() else "length" if finish == "length" else "stop")
        self.send(p.DoneEvent(
            id=req["id"],
            finish_reason=reason,
            prompt_tokens=prompt_tokens,
            completion_tokens=timing.count,
            time_to_first_token=round(timing.first - start, 4) if timing.count else None,
            tokens_per_second=timing.tokens_per_second(),
            truncated_turns=dropped,
            text="".join(parts),
            total_seconds=round(time.perf_counter() - start, 4),
        ))

    # --- raw completion ------------------------------------------------------------------------

    def _fit_text(self, prompt: str, max_tokens: int) -> tuple[list[int], int, int]:
        """The prompt's tokens, cut from the front to leave room for the continuation.

        Returns (tokens, tokens left out, max_tokens). The model's BOS is added as llama.cpp
        adds it by default (only for models that ask for one) and kept when the text is cut.
        The reply's room is ``max_tokens`` but at most half the context, so a large
        ``max_tokens`` cannot push the whole text out; the reply then gets what is left.
        """
        n_ctx = self.llm.n_ctx()
        tokens: list[int] = self.llm.tokenize(prompt.encode("utf-8"), add_bos=True,
                                              special=True)
        if not tokens:  # empty text and a model without BOS: nothing to continue from
            raise _Failure("empty", "There is no text to continue. Write a few words first.")
        bos = self.llm.token_bos()
        head = tokens[:1] if bos >= 0 and tokens[0] == bos else []
        reserve = max_tokens if max_tokens > 0 else min(512, n_ctx // 4)
        reserve = max(1, min(reserve, n_ctx // 2))
        dropped = max(0, len(tokens) - (n_ctx - reserve))  # text tokens, never the BOS
        if dropped:
            tokens = head + tokens[len(head) + dropped:]
        left = n_ctx - len(tokens)
        return tokens, dropped, left if max_tokens <= 0 else min(max_tokens, left)

    def _complete(self, req: dict[str, Any]) -> None:
        self._require_model()
        start = time.perf_counter()
        params = req["params"]
        tokens, dropped, max_tokens = self._fit_text(req["prompt"], params["max_tokens"])
        timing = _Timing()
        parts: list[str] = []
        finish = "stop"
        cancel = self._cancel
        if not cancel.is_set():
            # A token list, not the text: the cut prompt must not get a second BOS, and what
            # is evaluated is exactly what was counted.
            stream = self.llm.create_completion(
                prompt=tokens,
                stream=True,
                max_tokens=max_tokens,
                stop=list(params["stop"]),
                **{k: params[k] for k in SAMPLING_FIELDS},
                logits_processor=self._llama.llama.LogitsProcessorList([timing]),
                stopping_criteria=self._llama.llama.StoppingCriteriaList(
                    [lambda *_: cancel.is_set()]),
            )
            try:
                for chunk in stream:
                    if cancel.is_set():
                        break
                    choice = chunk["choices"][0]
                    piece = choice.get("text")
                    if piece:
                        parts.append(piece)
                        self.send(p.TokenEvent(id=req["id"], text=piece))
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
            finally:
                stream.close()
        reason: Literal["stop", "length", "cancelled"] = (
            "cancelled" if cancel.is_set() else "length" if finish == "length" else "stop")
        self.send(p.DoneEvent(
            id=req["id"],
            finish_reason=reason,
            prompt_tokens=len(tokens),
            completion_tokens=timing.count,
            time_to_first_token=round(timing.first - start, 4) if timing.count else None,
            tokens_per_second=timing.tokens_per_second(),
            truncated_tokens=dropped,
            text="".join(parts),
            total_seconds=round(time.perf_counter() - start, 4),
        ))


def default_threads() -> int:
    """One thread per physical core: decoding is memory-bound and hyper-threads only contend.

    llama-cpp-python's own default is half the logical CPUs, which on a two-core laptop leaves
    one core idle and halves the speed.
    """
    import psutil

    return max(1, psutil.cpu_count(logical=False) or os.cpu_count() or 1)


def _token_text(llm: Any, token: int) -> str:
    if token < 0:
        return ""
    text: str = llm.detokenize([token], special=True).decode("utf-8", errors="replace")
    return text


def _detail(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)).strip()[-4000:]


def main() -> int:
    out = _take_stdout()
    return EngineHost(out).run()


if __name__ == "__main__":
    sys.exit(main())
