"""Training examples in the chat panel's own turn format, ending with its end-of-turn marker."""

from __future__ import annotations

import pytest

from slmdesk.core.engine import chat_format as cf
from slmdesk.core.gguf.info import read_model_info
from slmdesk.core.training._chat_examples import chat_format_for_model, render_chat_example


def test_gemma_example_matches_what_the_chat_sends_then_stops():
    choice = cf.choose_chat_format("gemma3", None)
    text = render_chat_example(choice, "Where does Anna live?", "In Tromsø.")
    prompt = cf.format_prompt("gemma", [{"role": "user", "content": "Where does Anna live?"}])
    assert text == prompt + "In Tromsø.<end_of_turn>"
    assert text.startswith("<start_of_turn>user\nWhere does Anna live?<end_of_turn>\n"
                           "<start_of_turn>model\n")


def test_chatml_and_embedded_templates():
    chatml = cf.choose_chat_format("qwen2", None)
    assert render_chat_example(chatml, "Q?", "A.").endswith(
        "<|im_start|>assistant\nA.<|im_end|>")
    template = ("{% for m in messages %}[{{ m['role'] }}]{{ m['content'] }}[/]{% endfor %}"
                "{% if add_generation_prompt %}[assistant]{% endif %}")
    embedded = cf.choose_chat_format("llama", template, override=cf.EMBEDDED)
    assert render_chat_example(embedded, "Q?", "A.", template) == "[user]Q?[/][assistant]A.[/]"
    with pytest.raises(cf.UnknownChatFormat):
        render_chat_example(embedded, "Q?", "A.", None)


def test_the_starter_gets_the_gemma_format(starter_model_path):
    assert chat_format_for_model(read_model_info(starter_model_path)).name == "gemma"


def test_parts_split_at_the_models_turn():
    from slmdesk.core.training._chat_examples import render_chat_parts

    gemma = cf.choose_chat_format("gemma3", None)
    prompt, reply = render_chat_parts(gemma, "Where does Anna live?", "In Tromsø.")
    assert prompt == cf.format_prompt("gemma", [{"role": "user", "content": "Where does Anna live?"}])
    assert reply == "In Tromsø.<end_of_turn>"
    odd = "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}{% endfor %}{% if add_generation_prompt %}<bot>{% endif %}"
    embedded = cf.choose_chat_format("llama", odd, override=cf.EMBEDDED)
    assert render_chat_parts(embedded, "Q?", "A.", odd) == ("", "<user>Q?<assistant>A.")
