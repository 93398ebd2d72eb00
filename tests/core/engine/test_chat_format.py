"""Choosing a chat format, rendering prompts, and the sandbox around embedded templates."""

from __future__ import annotations

import pytest

from slmdesk.core.engine import chat_format as cf
from slmdesk.core.engine.chat_format import (
    EMBEDDED,
    KNOWN_FORMATS,
    ChatTemplateError,
    UnknownChatFormat,
    choose_chat_format,
    end_of_turn_text,
    format_prompt,
    render_chat_template,
)

CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)
CONVERSATION = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello!"},
    {"role": "user", "content": "Capital of France?"},
]


# --- choosing ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("architecture", "name", "expected"),
    [
        ("gemma", "", "gemma"),
        ("gemma2", "", "gemma"),
        ("gemma3", "Gemma 3 270m", "gemma"),
        ("qwen2", "Qwen2.5 0.5B Instruct", "chatml"),
        ("qwen3", "", "chatml"),
        ("stablelm", "", "chatml"),
        ("phi3", "Phi 3 Mini", "phi-3"),
        ("mistral", "", "mistral-instruct"),
        ("llama", "Meta Llama 3.2 1B Instruct", "llama-3"),
        ("llama", "Llama-3.1-8B", "llama-3"),
        ("llama", "SmolLM2 360M Instruct", "chatml"),
        ("llama", "TinyLlama 1.1B Chat", "zephyr"),
        ("llama", "Mistral 7B Instruct v0.2", "mistral-instruct"),
        ("llama", "Llama 2 7B Chat", "llama-2"),
        ("LLAMA", "", "chatml"),
    ],
)
def test_architecture_rules(architecture, name, expected):
    choice = choose_chat_format(architecture, None, name)
    assert (choice.name, choice.source) == (expected, "architecture")
    assert "no chat template" in choice.description


def test_llama3_recognised_from_its_vocabulary():
    choice = choose_chat_format("llama", None, "some-finetune", tokenizer_pre="llama-bpe")
    assert choice.name == "llama-3"


def test_description_for_the_starter_model():
    choice = choose_chat_format("gemma3", None, "Gemma 3 270m")
    assert choice.description == (
        "Gemma turn format (from the architecture 'gemma3'; the model file has no chat template)"
    )


def test_embedded_template_beats_the_architecture():
    choice = choose_chat_format("gemma3", CHATML_TEMPLATE, "Gemma 3")
    assert (choice.name, choice.source) == (EMBEDDED, "embedded")
    assert "model file" in choice.description


def test_blank_embedded_template_counts_as_none():
    assert choose_chat_format("qwen2", "   ", "").source == "architecture"


def test_override_beats_everything():
    choice = choose_chat_format("gemma3", CHATML_TEMPLATE, "Gemma", override="chatml")
    assert (choice.name, choice.source) == ("chatml", "override")
    assert "Settings" in choice.description


@pytest.mark.parametrize("no_override", [None, "", "auto"])
def test_empty_override_means_automatic(no_override):
    assert choose_chat_format("gemma3", None, override=no_override).source == "architecture"


def test_override_to_the_embedded_template():
    choice = choose_chat_format("gemma3", CHATML_TEMPLATE, override=EMBEDDED)
    assert (choice.name, choice.source) == (EMBEDDED, "override")
    with pytest.raises(UnknownChatFormat, match="has none"):
        choose_chat_format("gemma3", None, override=EMBEDDED)


def test_unknown_override_is_refused():
    with pytest.raises(UnknownChatFormat, match="'vicuna-9'"):
        choose_chat_format("gemma3", None, override="vicuna-9")


def test_unknown_architecture_gives_a_clear_message():
    with pytest.raises(UnknownChatFormat) as info:
        choose_chat_format("foo", None, "Foo 1B")
    assert str(info.value) == (
        "SLM Desk does not know how to talk to a 'foo' model. Choose a chat format in Settings."
    )


def test_every_known_format_renders_and_has_an_end_marker():
    for name in KNOWN_FORMATS:
        assert end_of_turn_text(name)
        assert "Capital of France?" in format_prompt(name, CONVERSATION)
    with pytest.raises(UnknownChatFormat):
        end_of_turn_text("nope")
    with pytest.raises(UnknownChatFormat):
        format_prompt("nope", CONVERSATION)


# --- exact prompts -----------------------------------------------------------------------------


def test_gemma_prompt_is_exact_and_folds_the_system_prompt_into_the_first_user_turn():
    assert format_prompt("gemma", CONVERSATION) == (
        "<start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n"
        "<start_of_turn>model\nHello!<end_of_turn>\n"
        "<start_of_turn>user\nCapital of France?<end_of_turn>\n"
        "<start_of_turn>model\n"
    )
    assert end_of_turn_text("gemma") == "<end_of_turn>"


def test_gemma_prompt_without_system_or_generation_prompt():
    text = format_prompt("gemma", CONVERSATION[1:3], add_generation_prompt=False)
    assert text == (
        "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n"
    )


def test_chatml_prompt_is_exact():
    assert format_prompt("chatml", CONVERSATION) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello!<|im_end|>\n"
        "<|im_start|>user\nCapital of France?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert end_of_turn_text("chatml") == "<|im_end|>"


def test_chatml_prompt_matches_the_reference_template():
    rendered = render_chat_template(CHATML_TEMPLATE, CONVERSATION)
    assert format_prompt("chatml", CONVERSATION) == rendered


def test_llama3_prompt_is_exact():
    assert format_prompt("llama-3", CONVERSATION[:2]) == (
        "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )


def test_mistral_and_llama2_prompts():
    assert format_prompt("mistral-instruct", CONVERSATION) == (
        "[INST] Be brief.\n\nHi [/INST]Hello!</s>[INST] Capital of France? [/INST]"
    )
    assert format_prompt("llama-2", CONVERSATION) == (
        "[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello! </s>"
        "<s>[INST] Capital of France? [/INST]"
    )


def test_unknown_role_is_refused():
    with pytest.raises(ValueError, match="role"):
        format_prompt("chatml", [{"role": "tool", "content": "x"}])


# --- the sandbox -------------------------------------------------------------------------------


def test_template_gets_tokens_and_generation_flag():
    template = "{{ bos_token }}{% for m in messages %}{{ m.content }}{{ eos_token }}{% endfor %}" \
               "{% if add_generation_prompt %}>{% endif %}"
    assert render_chat_template(template, CONVERSATION[1:2], bos_token="<s>",
                                eos_token="</s>") == "<s>Hi</s>>"


@pytest.mark.parametrize(
    "hostile",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ messages.__class__.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{% set x = messages.append({'role': 'user', 'content': 'x'}) %}{{ x }}",
    ],
)
def test_sandbox_refuses_hostile_templates(hostile):
    with pytest.raises(ChatTemplateError):
        render_chat_template(hostile, CONVERSATION)


def test_template_raise_exception_becomes_a_clear_error():
    template = "{{ raise_exception('Conversation roles must alternate') }}"
    with pytest.raises(ChatTemplateError, match="alternate"):
        render_chat_template(template, CONVERSATION)


def test_broken_template_is_a_chat_template_error():
    with pytest.raises(ChatTemplateError, match="Settings"):
        render_chat_template("{% for m in messages %}", CONVERSATION)


def test_module_does_not_import_llama_cpp():
    assert "llama_cpp" not in vars(cf)
