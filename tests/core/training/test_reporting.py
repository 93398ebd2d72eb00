"""The words for training results: every form of the knowledge registries has its title and
phrase, and the forgetting thresholds speak the same words in the CLI and the wizard."""

from __future__ import annotations

from slmdesk.core.knowledge import QUIZ_FORMS, TRAINING_FORMS
from slmdesk.core.training.reporting import (
    FORGETTING_WARNING_RATIO,
    FORM_PHRASES,
    FORM_TITLES,
    describe_forgetting,
    forgetting_warning,
)


def test_every_training_and_quiz_form_has_a_title_and_a_phrase():
    forms = set(TRAINING_FORMS) | set(QUIZ_FORMS)
    assert set(FORM_TITLES) == forms
    assert set(FORM_PHRASES) == forms


def test_forgetting_is_warned_about_above_the_threshold_only():
    assert forgetting_warning(FORGETTING_WARNING_RATIO) == ""
    assert "overwrote" in forgetting_warning(FORGETTING_WARNING_RATIO + 0.1)
    text, ratio = describe_forgetting({"general_perplexity_before": 20.0,
                                       "general_perplexity_after": 30.0})
    assert ratio == 1.5 and "1.5 times less sure" in text
