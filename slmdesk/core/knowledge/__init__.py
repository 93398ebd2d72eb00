"""A person's notes as facts, training questions and quiz questions, by rules alone.

Training a small model on the raw text of a note teaches it to continue the note, not to answer
questions about it; stating each fact in several forms does (see :mod:`.augment`). This package
turns ordinary prose into those forms and into quiz questions of other forms, with the standard
library only: no other model, no network. Plain Python: no Qt, no torch.

Modules: :mod:`.sentences` (splitting), :mod:`.quantities`, :mod:`.names` and :mod:`.spans`
(what a question can ask for), :mod:`.facts`, :mod:`.coreference` (what a pronoun points to),
:mod:`.reorder`, :mod:`.echo`, :mod:`.passive` and :mod:`.relative` (the forms),
:mod:`.augment` (training examples), :mod:`.quiz`, :mod:`.inversion` and :mod:`.matching`
(the quiz), :mod:`.forms` (the names of span kinds and forms), :mod:`.patterns` (regex helpers
without words), :mod:`.language` (which language a document is in, and its rules module), and
:mod:`.rules_en`, which holds every English word list, pattern and template. A second language
is one more rules module, registered in :mod:`.language`.
"""

from .augment import Augmentation, QAExample, augment_documents
from .facts import Fact, extract_facts
from .forms import QUIZ_FORMS, TRAINING_FORMS, QuizForm, SpanKind, TrainingForm
from .language import detect_language, rules_for, supported_languages
from .matching import answer_matches
from .quiz import QuizItem, make_quiz
from .sentences import split_sentences
from .spans import Span, find_spans

__all__ = [
    "Augmentation", "Fact", "QAExample", "QUIZ_FORMS", "QuizForm", "QuizItem", "Span",
    "SpanKind", "TRAINING_FORMS", "TrainingForm", "answer_matches", "augment_documents",
    "detect_language", "extract_facts", "find_spans", "make_quiz", "rules_for",
    "split_sentences", "supported_languages",
]
