"""Question-and-answer training examples written in the base model's own chat format.

A model learns to answer in chat what it was trained on *in the chat's own shape*: the same turn
markers the chat panel will send (:mod:`slmdesk.core.engine.chat_format`, chosen from the model file
exactly as the engine chooses it), and an answer that ends with the end-of-turn marker, so that
the tuned model stops there in chat instead of running on.
"""

from __future__ import annotations

from typing import Sequence

from slmdesk.core.engine import chat_format as cf
from slmdesk.core.gguf.info import ModelInfo


def chat_format_for_model(info: ModelInfo) -> cf.ChatFormatChoice:
    """The chat format the engine will use for this model file (no Settings override).

    Raises:
        UnknownChatFormat: when nothing tells how to talk to the model.
    """
    meta = info.metadata or {}
    hint = f"{meta.get('general.name', '')} {meta.get('general.basename', '')} {info.path.name}"
    return cf.choose_chat_format(info.architecture, info.chat_template, hint, None,
                                 meta.get("tokenizer.ggml.pre"))


def render_chat_example(choice: cf.ChatFormatChoice, question: str, answer: str,
                        template: str | None = None) -> str:
    """One user question and the assistant's answer, as training text (no BOS: the tokenizer
    or the chunker adds it). ``template`` is the model's own template for :data:`cf.EMBEDDED`."""
    if choice.name == cf.EMBEDDED:
        if not template:
            raise cf.UnknownChatFormat("The model's own chat template is missing.")
        return cf.render_chat_template(
            template, [{"role": "user", "content": question},
                       {"role": "assistant", "content": answer}],
            add_generation_prompt=False)
    prompt = cf.format_prompt(choice.name, [{"role": "user", "content": question}])
    return prompt + answer + cf.end_of_turn_text(choice.name)


def render_chat_parts(choice: cf.ChatFormatChoice, question: str, answer: str,
                      template: str | None = None) -> tuple[str, str]:
    """(prompt, reply) of one example: the prompt is exactly what the chat sends before the
    model's turn, the reply the answer with its end-of-turn marker; together they are
    :func:`render_chat_example`. Training learns the reply only, so that the model learns to
    answer, not to ask."""
    whole = render_chat_example(choice, question, answer, template)
    if choice.name == cf.EMBEDDED:
        prompt = cf.render_chat_template(template or "", [{"role": "user", "content": question}],
                                         add_generation_prompt=True)
    else:
        prompt = cf.format_prompt(choice.name, [{"role": "user", "content": question}])
    if not whole.startswith(prompt):  # a template that renders the turns differently: whole
        return "", whole
    return prompt, whole[len(prompt):]


def render_chat_examples(choice: cf.ChatFormatChoice, pairs: Sequence[tuple[str, str]],
                         template: str | None = None) -> list[str]:
    return [render_chat_example(choice, question, answer, template) for question, answer in pairs]
