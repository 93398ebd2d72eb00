"""Plain words for the knowledge features: the question forms, the quiz and forgetting.

Shared by the documents page (the questions-and-answers preview), the training page (the dataset
and quiz lines), the done page and its quiz dialog, so that every place names a form, a quiz score
or a loss of general writing the same way. No Qt here: only strings from numbers and dicts.
"""

from __future__ import annotations

from collections.abc import Mapping

from slmdesk.core.knowledge.forms import QuizForm, TrainingForm
from slmdesk.core.training.quiz_run import QuizResult

#: Form -> what its questions do, said so that it follows a count ("60 ask for a name, place or
#: date"). Every form of the knowledge registries has one (tests/core/training/test_reporting.py
#: checks); a form missing here would be shown by its own name.
FORM_PHRASES: dict[str, str] = {
    TrainingForm.ASK_SPAN: "ask for a name, place, date or number",
    TrainingForm.ASK_EMBEDDED: "ask for one the way a person would (\u201ccan you tell me who\u2026\u201d)",
    TrainingForm.NOTES_ABOUT: "ask what the notes say about someone or something",
    TrainingForm.FACTS_ABOUT: "ask for a list of the facts about someone",
    TrainingForm.RESTATE: "ask to be told about something, in other words",
    # the quiz forms: asked, never trained on
    QuizForm.DIRECT_QUESTION: "ask a question in plain words",
    QuizForm.FILL_BLANK: "ask for a missing word",
    QuizForm.REQUEST: "ask about a sentence it was not taught",
}
#: Short names, for tables ("Name, place, date or number").
FORM_TITLES: dict[str, str] = {
    TrainingForm.ASK_SPAN: "Name, place, date or number",
    TrainingForm.ASK_EMBEDDED: "Can you tell me\u2026",
    TrainingForm.NOTES_ABOUT: "What the notes say",
    TrainingForm.FACTS_ABOUT: "List of facts",
    TrainingForm.RESTATE: "Tell me about",
    QuizForm.DIRECT_QUESTION: "Direct question",
    QuizForm.FILL_BLANK: "Fill in the blank",
    QuizForm.REQUEST: "Not taught",
}

#: General text this many times harder to predict after training: warn.
FORGETTING_WARNING_RATIO = 2.0
#: ... and this many times: warn in red.
FORGETTING_SEVERE_RATIO = 5.0


def form_phrase(form: str) -> str:
    return FORM_PHRASES.get(form, form)


def form_title(form: str) -> str:
    return FORM_TITLES.get(form, form)


def plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count:,} {one if count == 1 else (many or one + 's')}"


def count_parts(counts: Mapping[str, int]) -> tuple[int, list[str]]:
    """The number of examples and one phrase per kind ('60 ask who'), commonest first.

    Forms with the same phrase are counted together, so a line never says the same thing twice.
    """
    merged: dict[str, int] = {}
    for form, count in counts.items():
        if isinstance(count, int) and count > 0:
            merged[form_phrase(form)] = merged.get(form_phrase(form), 0) + count
    parts = [f"{count:,} {phrase}" for phrase, count in
             sorted(merged.items(), key=lambda item: (-item[1], item[0]))]
    return sum(merged.values()), parts


def count_head(total: int) -> str:
    return plural(total, "question and answer", "questions and answers")


def describe_counts(counts: Mapping[str, int]) -> str:
    """'142 questions and answers: 60 ask ..., 30 ask ...'; '' when there are none."""
    total, parts = count_parts(counts)
    return f"{count_head(total)}: {', '.join(parts)}" if total else ""


def quiz_result(data: object) -> QuizResult | None:
    """A quiz dict from an event or the metrics, or None when it is missing or unreadable."""
    if isinstance(data, QuizResult):
        return data
    if not isinstance(data, dict):
        return None
    try:
        return QuizResult.from_dict(data)
    except (TypeError, ValueError, AttributeError):
        return None


def quiz_score(result: QuizResult) -> str:
    """'9 of 12 questions', then '(1 of 4 about sentences held back from training)' if any."""
    taught, untaught = result.taught, result.untaught
    parts = []
    if taught:
        parts.append(f"{sum(a.correct for a in taught)} of {plural(len(taught), 'question')}")
    if untaught:
        held = f"{sum(a.correct for a in untaught)} of {len(untaught)} about sentences held back"
        parts.append(f"({held} from training)" if taught else held + " from training")
    return " ".join(parts)


def format_perplexity(value: float) -> str:
    return f"{value:,.1f}" if value < 10 else f"{value:,.0f}"


def describe_forgetting(metrics: Mapping[str, object]) -> tuple[str, float | None]:
    """How much the model's ordinary writing suffered, and the ratio (None when not measured).

    The perplexity on a general text unrelated to the documents, before and after training: the
    ratio says how many times less sure of ordinary text the model became.
    """
    before = metrics.get("general_perplexity_before")
    after = metrics.get("general_perplexity_after")
    if (not isinstance(before, (int, float)) or not isinstance(after, (int, float))
            or before <= 0 or after <= 0):
        return "", None
    ratio = after / before
    figures = f"(perplexity {format_perplexity(before)} \u2192 {format_perplexity(after)})"
    if ratio >= 1.1:
        change = f"the model is now {ratio:.1f} times less sure of ordinary text"
    elif ratio > 1 / 1.1:
        change = "the model is about as sure of ordinary text as before"
    else:
        change = f"the model is now {1 / ratio:.1f} times more sure of ordinary text"
    return f"General writing: {change} {figures}.", ratio


def forgetting_warning(ratio: float | None, preset: str | None = None) -> str:
    """The warning for a large loss of general writing; '' when there is none to give."""
    if ratio is None or ratio <= FORGETTING_WARNING_RATIO:
        return ""
    advice = ("Try fewer passes over the text (Advanced settings)" if preset == "quick"
              else "Try the Quick preset")
    return (f"Training overwrote some of the model's general writing ({ratio:.1f} times worse "
            f"on ordinary text). {advice}, or a lower adapter strength in chat.")

def describe_metrics(metrics: Mapping[str, object]) -> str:
    """Perplexity before and after, said for someone who has never heard the word."""
    split = metrics.get("evaluation_split", "validation")
    before = metrics.get(f"{split}_perplexity_before")
    after = metrics.get(f"{split}_perplexity_after")
    if not isinstance(before, (int, float)) or not isinstance(after, (int, float)):
        return "The adapter was trained; its progress could not be measured."
    where = ("on the part of your documents held back from training (text it never saw while "
             "learning)" if split == "validation" else
             "on your documents themselves (they were too short to hold some back, so this "
             "shows how well it learned them rather than how well it generalises)")
    if after < before:
        ratio = before / after
        change = (f"It now predicts your text <b>{ratio:.1f} times better</b>."
                  if ratio >= 1.1 else "That is only a small improvement.")
    else:
        change = ("It did not get better at predicting your text; try more passes or the "
                  "Balanced preset.")
    return (f"Measured {where}:<br>"
            f"Before training, the model was on average as unsure of the next word as if "
            f"choosing among <b>{before:,.1f}</b> equally likely words (its <i>perplexity</i>). "
            f"After training: <b>{after:,.1f}</b>. {change}")
