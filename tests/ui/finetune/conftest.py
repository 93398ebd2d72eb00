"""Fixtures shared by the fine-tuning page's tests."""

from tests.ui.finetune.test_wizard import starter_window, tiny_window  # noqa: F401 - fixtures
