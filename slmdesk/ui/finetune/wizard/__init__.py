"""The fine-tuning wizard, one module per step (see :mod:`slmdesk.ui.finetune.wizard.wizard`)."""

from slmdesk.ui.finetune.wizard.wizard import FineTuneWizard

__all__ = ["FineTuneWizard"]
