"""The fine-tuning wizard, one module per step (see :mod:`slmdesk.ui.wizard.wizard`)."""

from slmdesk.ui.wizard.wizard import FineTuneWizard

__all__ = ["FineTuneWizard"]
