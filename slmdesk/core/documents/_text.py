"""Plain text out of bytes: encodings, clean-up and Markdown, and the error every reader raises.

Notes come from Notepad (cp1252, UTF-16) as often as from editors that write UTF-8, so text is
decoded by BOM, strict UTF-8, the computer's legacy code page, then charset-normalizer; text that is
really a binary file is refused. :func:`normalize_text` cleans whatever any reader extracted. This
is the bottom layer of document reading: the HTML, PDF and Word readers
(:mod:`slmdesk.core.documents._readers`) build on it, and :mod:`slmdesk.core.documents.collect`, the module
the rest of the app imports, dispatches to both. It is separate so each of those stays short and
none of them imports another in a circle.
"""

from __future__ import annotations

import bisect
import codecs
import contextlib
import locale
import os
import re
import unicodedata

from slmdesk.core.errors import SlmdeskError

# The most text taken from one file: 50 million characters is days of CPU training.
MAX_CHARACTERS = 50 * 1000 * 1000

_BINARY = "This looks like a binary file, not text."
BOMS = [(codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")]
#: What every reader returns: text, title, encoding, pages, and its headings in reading order
#: (txt and PDF have none), which the search index cites passages by.
Extracted = tuple[str, str, "str | None", "int | None", "list[str]"]
#: The most headings a file's passages are named by (a book has hundreds; more is a generated or
#: broken file). Readers keep one more, the first left out: from it on, passages name no heading.
MAX_HEADINGS = 20_000
#: The most characters of one heading kept: a citation names it, it should not be a paragraph.
MAX_HEADING_CHARACTERS = 200


class DocumentError(SlmdeskError):
    """A file could not be read; the message says why in words a non-programmer understands,
    the detail holds the technical cause, for a bug report."""


def normalize_text(text: str) -> str:
    """Clean extracted text without changing what it says.

    Newlines become ``\\n`` (a form feed, a page break, a blank line); control characters, BOMs and
    soft hyphens go; NFC, PDF ligatures (``ﬁ``) spelled out; trailing spaces and blank lines at both
    ends go; three or more blank lines become two. A word broken at a line end (``exam-\\nple``) is
    joined when both sides are lower case, as typesetting hyphenates; a compound split there
    (``well-\\nknown``) loses its hyphen, a rare loss next to hundreds of broken words in a PDF.
    """
    # str.replace and split are C loops; str.translate with a dict and regexes that start with a
    # character class are ten times slower, which is seconds on a book-sized file.
    for old, new in _REPLACEMENTS:
        if old in text:
            text = text.replace(old, new)
    text = unicodedata.normalize("NFC", _CONTROL.sub("", _SOFT_HYPHEN_BREAK.sub("", text)))
    text = "\n".join(line.rstrip(" \t\u00a0") for line in text.split("\n"))
    text = _HYPHEN_BREAK.sub(_join_hyphenated, text)
    return _EXTRA_BLANK_LINES.sub("\n\n\n", text).strip("\n")


_REPLACEMENTS = [("\r\n", "\n"), ("\r", "\n"), ("\x85", "\n"), ("\u2028", "\n"), ("\u2029", "\n\n"),
                 ("\x0c", "\n\n"), ("\x0b", "\n"), ("\ufb00", "ff"), ("\ufb01", "fi"), ("\ufb02", "fl"),
                 ("\ufb03", "ffi"), ("\ufb04", "ffl"), ("\ufb05", "st"), ("\ufb06", "st")]
_SOFT_HYPHEN_BREAK = re.compile("\u00ad[ \t]*\n[ \t]*")
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\u00ad\ufeff]")
_HYPHEN_BREAK = re.compile(r"-\n[ \t]*(?=[^\W\d_])")
_EXTRA_BLANK_LINES = re.compile(r"\n{4,}")
_BINARY_CHARS = re.compile("[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f-\x9f\ufffd]")  # ESC (\x1b) is in logs
# Letters around a symbol: another code page's letter read as cp1252 ("Za¿ó³æ" is Polish "Zażółć").
_SYMBOL_IN_WORD = re.compile(r"[^\W\d_][\u00a1-\u00b6\u00b8-\u00bf\u00d7\u00f7\u02c6\u02dc\u2122][^\W\d_]")


def _join_hyphenated(match: re.Match[str]) -> str:
    before, after = match.string[match.start() - 1:match.start()], match.string[match.end()]
    return "" if before.islower() and after.islower() else match.group(0)


def decode_text(data: bytes) -> tuple[str, str]:
    """Text and a codec that decodes all of ``data``; DocumentError if it is not text at all."""
    text, encoding = _guess_decoding(data)
    refuse_binary(text)
    return text, encoding


def refuse_binary(text: str) -> None:
    """Control characters in more than 1% of the text: no editor writes that, so it is not text."""
    sample = text[:100_000]
    if len(_BINARY_CHARS.findall(sample)) > max(2, len(sample) // 100):
        raise DocumentError(_BINARY)


def _guess_decoding(data: bytes) -> tuple[str, str]:
    for bom, encoding in BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace"), encoding
    head = data[:65536]
    if b"\x00" in head:  # ASCII-range UTF-16 without a BOM has a NUL in every other byte
        even, odd, many = head[::2].count(0), head[1::2].count(0), len(head) * 0.15
        for encoding, nuls, others in (("utf-16-le", odd, even), ("utf-16-be", even, odd)):
            if nuls > many > others:
                with contextlib.suppress(UnicodeDecodeError):
                    return data.decode(encoding), encoding
    with contextlib.suppress(UnicodeDecodeError):
        return data.decode("utf-8"), "utf-8"
    # charset-normalizer cannot tell the single-byte Latin code pages apart on a few lines (it
    # reads "naïve" in cp1252 as cp1250 "naďve"); the computer's own legacy code page, the one
    # Notepad used to save in, is the likeliest. Text that is mostly accented letters in it
    # ("Ïðèâåò" is Привет read as cp1252) is another script, left to charset-normalizer.
    legacy = _legacy_code_page()
    with contextlib.suppress(UnicodeDecodeError):
        text = data.decode(legacy)
        letters = [char for char in text[:100_000] if char.isalpha()]
        if sum(char > "\x7f" for char in letters) <= len(letters) // 2 \
                and not _SYMBOL_IN_WORD.search(text, 0, 100_000):
            return text, legacy
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is not None:
        return str(best), best.encoding
    with contextlib.suppress(UnicodeDecodeError):
        return data.decode("cp1252"), "cp1252"
    return data.decode("latin-1"), "latin-1"  # decodes anything; refuse_binary judges it


def _legacy_code_page() -> str:
    """The Windows "ANSI" code page for this computer's language; cp1252 (Western) if unknown."""
    if os.name == "nt":
        return locale.getencoding()
    language = next((os.environ[name] for name in ("LC_ALL", "LC_CTYPE", "LANG") if os.environ.get(name)),
                    locale.getlocale()[0] or "")
    return _LEGACY_CODE_PAGES.get(re.split("[_.@-]", language)[0].lower(), "cp1252")


_LEGACY_CODE_PAGES = {language: code_page for code_page, languages in [
    ("cp1250", "cs sk pl hu hr sl ro sq bs"), ("cp1251", "ru uk be bg mk sr kk"), ("cp1253", "el"),
    ("cp1254", "tr az"), ("cp1255", "he"), ("cp1256", "ar fa"), ("cp1257", "lt lv et"), ("cp1258", "vi")]
    for language in languages.split()}


def read_txt(data: bytes) -> Extracted:
    text, encoding = decode_text(data)
    return text, "", encoding, None, []


def heading_lines(text: str, headings: list[str]) -> tuple[tuple[int, str], ...]:
    """Where the headings a reader found stand in the cleaned ``text``: (line from 1, heading).

    A reader knows which blocks are headings but not where :func:`normalize_text` moves them;
    each heading is a line of its own in the text, so each is matched with the first line after
    the previous heading's that reads the same (spaces aside). A heading the cleaning changed is
    left out: the passages under it then name the heading before, never a wrong later one. The
    one past :data:`MAX_HEADINGS` is kept nameless (""), so what follows it names none.
    """
    keys = [" ".join(normalize_text(heading).split()) for heading in headings[:MAX_HEADINGS + 1]]
    wanted = set(keys) - {""}
    if not wanted:
        return ()
    lines_of: dict[str, list[int]] = {}
    for number, line in enumerate(text.split("\n"), start=1):
        if (key := " ".join(line.split())) in wanted:
            lines_of.setdefault(key, []).append(number)
    found: list[tuple[int, str]] = []
    after = 0
    for number, key in enumerate(keys):
        lines = lines_of.get(key, [])
        position = bisect.bisect_right(lines, after)
        if position < len(lines):
            after = lines[position]
            found.append((after, key[:MAX_HEADING_CHARACTERS] if number < MAX_HEADINGS else ""))
    return tuple(found)


# YAML (---) or TOML (+++) front matter; the key: value on its first line tells it from a rule.
_FRONT_MATTER = re.compile(r"\A(?:---|\+\+\+)[ \t]*\n(?=[\w-]+[ \t]*[:=]).*?\n(?:---|\.\.\.|\+\+\+)[ \t]*(?:\n|\Z)",
                           re.DOTALL)
_FRONT_MATTER_TITLE = re.compile(r"^title[ \t]*[:=][ \t]*[\"']?(.*?)[\"']?[ \t]*$", re.MULTILINE)
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
_ATX_HEADING = re.compile(r"^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
# A line of = or - under a paragraph's line makes that line a heading (CommonMark's setext
# heading); under a blank line, a list item or a heading, a line of - is a rule, kept as text.
_SETEXT_UNDERLINE = re.compile(r"^ {0,3}(?:=+|-+)[ \t]*$")
_LIST_ITEM = re.compile(r"^ {0,3}(?:[-*+]|\d{1,9}[.)])(?:[ \t]|$)")
_LINK_DEFINITION = re.compile(r"^ {0,3}\[[^\]]+\]:[ \t]*\S+.*$")
_TARGET = r"(?:\((?:[^()]|\([^()]*\))*\)|\[[^\]]*\])"  # (url "title"), one level of () inside, or [ref]
_IMAGE = re.compile(r"!\[[^\]]*\]" + _TARGET)
_LINK = re.compile(r"\[([^\]]+)\]" + _TARGET)
_AUTOLINK = re.compile(r"<((?:https?|ftp|mailto):[^>\s]+)>")


def read_md(data: bytes) -> Extracted:
    """Markdown as a person reads it: front matter, images, link targets and comments removed,
    headings without their ``#`` marks or ``===`` underlines; code blocks untouched, other markup
    (``*emphasis*``) kept. The title is the front matter's ``title:`` or the first heading."""
    text, encoding = decode_text(data)
    text, title = normalize_text(text), ""
    if front := _FRONT_MATTER.match(text):
        title = found.group(1) if (found := _FRONT_MATTER_TITLE.search(front.group(0))) else ""
        text = text[front.end():]
    lines: list[str] = []
    fence: str | None = None
    headings: list[str] = []
    paragraph_line = False  # the line before is a paragraph's (a setext underline may follow)
    for line in re.sub(r"<!--.*?-->", "", text, flags=re.DOTALL).split("\n"):
        marker = _FENCE.match(line)
        was_paragraph_line, paragraph_line = paragraph_line, False
        if fence is not None:
            fence = None if marker and marker.group(1) == fence else fence
        elif marker:
            fence = marker.group(1)
        elif _LINK_DEFINITION.match(line):
            continue
        elif was_paragraph_line and _SETEXT_UNDERLINE.match(line):
            title = title or lines[-1].strip()
            if len(headings) <= MAX_HEADINGS:
                headings.append(lines[-1])
            continue  # the underline is markup, not text
        else:
            heading = _ATX_HEADING.match(line)
            if heading:
                line = heading.group(1) or ""
                title = title or _LINK.sub(r"\1", line)
            line = _AUTOLINK.sub(r"\1", _LINK.sub(r"\1", _IMAGE.sub("", line)))
            if heading and line.strip() and len(headings) <= MAX_HEADINGS:
                headings.append(line)
            paragraph_line = not heading and bool(line.strip()) and not _LIST_ITEM.match(line)
        lines.append(line)
    return "\n".join(lines), title, encoding, None, headings
