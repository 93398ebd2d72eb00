"""Reading a person's documents: real files of every kind written in tmp_path, good and bad."""

from __future__ import annotations

import os
import random
import zipfile
from pathlib import Path

import docx
import pytest

from slmdesk.core.documents.collect import (
    MAX_TEXT_FILE_BYTES,
    SUPPORTED_SUFFIXES,
    Document,
    DocumentError,
    collect_documents,
    normalize_text,
    read_document,
)
from tests.document_factory import encrypt_pdf, write_docx, write_pdf

FRENCH = "Le café coûte 5 €. Ça va? Très bien, merci; à demain!"
PNG_HEADER = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"


def _reason(path: Path) -> str:
    with pytest.raises(DocumentError) as caught:
        read_document(path)
    return caught.value.message


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


# --- Text files and encodings --------------------------------------------------------------------

@pytest.fixture(autouse=True)
def western_computer(monkeypatch):
    """Legacy (non-UTF) text is read in the computer's own code page first; make that Western."""
    monkeypatch.setenv("LC_ALL", "en_US.UTF-8")


@pytest.mark.parametrize("encoding, expected", [
    ("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("utf-16", "utf-16"), ("utf-16-le", "utf-16-le"),
    ("utf-16-be", "utf-16-be"), ("utf-32", "utf-32"), ("cp1252", "cp1252")])
def test_text_file_encodings_are_detected(tmp_path, encoding, expected):
    text = f"{FRENCH}\nNaïve résumé, 20 € each.\n"
    doc = read_document(_write(tmp_path / "notes.txt", text.encode(encoding)))
    assert doc.text == text.rstrip("\n")
    assert doc.encoding == expected
    assert doc.kind == "txt" and doc.title == "notes" and doc.pages is None
    assert doc.characters == len(doc.text)


def test_short_cp1252_is_not_mistaken_for_central_european(tmp_path):
    # charset-normalizer alone ranks cp1250 first here and would turn "naïve" into "naďve".
    doc = read_document(_write(tmp_path / "short.txt", "Café costs 5 € — naïve résumé.".encode("cp1252")))
    assert doc.text == "Café costs 5 € — naïve résumé." and doc.encoding == "cp1252"


@pytest.mark.skipif(os.name == "nt", reason="Windows takes the code page from the system, not LC_ALL")
def test_central_european_computer_reads_its_own_code_page(tmp_path, monkeypatch):
    monkeypatch.setenv("LC_ALL", "cs_CZ.UTF-8")
    text = "Příliš žluťoučký kůň úpěl ďábelské ódy."
    doc = read_document(_write(tmp_path / "cz.txt", text.encode("cp1250")))
    assert doc.text == text and doc.encoding == "cp1250"


def test_polish_text_is_not_mistaken_for_western_by_its_symbols(tmp_path):
    text = "Zażółć gęślą jaźń, to jest test polskiego tekstu. Pchnąć w tę łódź jeża lub ośm skrzyń fig."
    doc = read_document(_write(tmp_path / "pl.txt", text.encode("cp1250")))
    assert doc.text == text and doc.encoding == "cp1250"


def test_non_western_single_byte_encoding_is_detected(tmp_path):
    text = "Привет, как дела? Это проверка русского текста в кодировке Windows."
    doc = read_document(_write(tmp_path / "ru.txt", text.encode("cp1251")))
    assert doc.text == text and doc.encoding == "cp1251"


def test_text_with_crlf_and_stray_nul_is_cleaned_not_refused(tmp_path):
    data = b"first line  \r\nsecond\x00 line\r\n\r\n\r\n\r\n\r\nend\r\n"
    doc = read_document(_write(tmp_path / "win.txt", data))
    assert doc.text == "first line\nsecond line\n\n\nend"


def test_empty_and_blank_files_are_refused(tmp_path):
    assert _reason(_write(tmp_path / "empty.txt", b"")) == "The file is empty."
    assert _reason(_write(tmp_path / "blank.md", b" \n\t\n  \r\n")) == "The file is empty."
    assert _reason(_write(tmp_path / "empty.pdf", b"")) == "The file is empty."


def test_binary_files_named_txt_are_refused(tmp_path):
    noise = random.Random(0).randbytes(4000)
    assert _reason(_write(tmp_path / "picture.txt", PNG_HEADER + noise)) == \
        "This looks like a binary file, not text."
    # No NUL byte at all, so only the decoded text gives it away.
    assert _reason(_write(tmp_path / "noise.md", noise.replace(b"\x00", b"\x01"))) == \
        "This looks like a binary file, not text."


def test_unsupported_suffixes_name_the_kinds_we_read(tmp_path):
    assert _reason(_write(tmp_path / "budget.xlsx", b"PK\x03\x04")) == \
        "SLM Desk cannot read .xlsx files; use txt, md, pdf, docx or html."
    assert "no ending such as .txt" in _reason(_write(tmp_path / "README", b"hello"))
    assert {".txt", ".md", ".pdf", ".docx", ".html", ".htm"} <= SUPPORTED_SUFFIXES


def test_huge_text_file_is_refused_before_reading(tmp_path):
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as handle:  # sparse: costs no disk space and must never be read
        handle.truncate(MAX_TEXT_FILE_BYTES + 1_000_000)
    reason = _reason(huge)
    assert reason.startswith("The file is too large (51 MB)") and "50 MB" in reason


def test_missing_file_and_folder(tmp_path):
    assert _reason(tmp_path / "gone.txt").startswith("The file does not exist")
    (tmp_path / "folder.txt").mkdir()
    assert _reason(tmp_path / "folder.txt") == "This is a folder, not a file."


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file_is_permission_denied(tmp_path):
    locked = _write(tmp_path / "locked.txt", b"secret")
    locked.chmod(0)
    try:
        assert _reason(locked) == "Permission denied."
    finally:
        locked.chmod(0o600)


# --- normalize_text ------------------------------------------------------------------------------

def test_normalize_text_cleans_layout_but_keeps_words():
    raw = ("\n\n  \nTitle\r\nline with trailing spaces   \t\rnext\x00 line\x07\n\n\n\n\n\n"
           "para\ufeff two\x0cpage two")
    assert normalize_text(raw) == ("Title\nline with trailing spaces\nnext line\n\n\n"
                                   "para two\n\npage two")


@pytest.mark.parametrize("raw, expected", [
    ("an exam-\nple here", "an example here"),
    ("über-\nhaupt", "überhaupt"),
    ("soft\u00ad\nhyphen", "softhyphen"),
    ("Jean-\nPaul stays", "Jean-\nPaul stays"),      # capital after the break: a name, not a split
    ("version 3-\n4", "version 3-\n4"),              # digits
    ("a list -\n- item", "a list -\n- item"),        # a dash, not a hyphen
    ("the \ufb01nal \ufb02ow", "the final flow"),    # ligatures from PDFs
    ("cafe\u0301", "café"),                          # NFC
])
def test_normalize_text_joins_words_hyphenated_at_line_ends_only_when_safe(raw, expected):
    assert normalize_text(raw) == expected


# --- Markdown and HTML ---------------------------------------------------------------------------

def test_markdown_front_matter_links_images_and_headings(tmp_path):
    source = """---
title: "My Garden Notes"
tags: [plants]
---
# Tomatoes

Water them [every morning](https://example.com/water "tip") and see [the guide][g].
![a photo](img/tomato.png)
Visit <https://example.org/tomatoes>.
<!-- a note to self -->

[g]: https://example.com/guide

```python
# this comment is code, not a heading: [x](y)
print("hi")
```
## Basil ##
"""
    doc = read_document(_write(tmp_path / "garden.md", source.encode()))
    assert doc.kind == "md" and doc.title == "My Garden Notes"
    assert doc.text == ("Tomatoes\n\nWater them every morning and see the guide.\n\n"
                        "Visit https://example.org/tomatoes.\n\n\n"
                        "```python\n# this comment is code, not a heading: [x](y)\nprint(\"hi\")\n```\n"
                        "Basil")


def test_markdown_title_is_first_heading_and_a_leading_rule_is_not_front_matter(tmp_path):
    doc = read_document(_write(tmp_path / "plain.md", b"---\nIntro text\n\n## The [Real](u) Title\nBody\n\n---\n"))
    assert doc.title == "The Real Title"
    assert doc.text == "---\nIntro text\n\nThe Real Title\nBody\n\n---"
    assert read_document(_write(tmp_path / "untitled.md", b"just text")).title == "untitled"


def test_markdown_underlined_headings_are_headings_and_rules_elsewhere_stay_text(tmp_path):
    source = ("Garden Notes\n============\n\nTomatoes need water.\n\nBasil\n-----\nPick the tops.\n\n"
              "---\n\n- a list item\n---\n```\ncode line\n===\n```\n")
    doc = read_document(_write(tmp_path / "setext.md", source.encode()), with_places=True)
    assert doc.title == "Garden Notes"
    assert doc.text == ("Garden Notes\n\nTomatoes need water.\n\nBasil\nPick the tops.\n\n---\n\n"
                        "- a list item\n---\n```\ncode line\n===\n```")
    # A rule after a blank line or a list item, and === in code, are not headings.
    assert doc.headings == ((1, "Garden Notes"), (5, "Basil"))


def test_html_keeps_paragraphs_and_drops_scripts_styles_and_navigation(tmp_path):
    page = """<!DOCTYPE html>
<html><head><title>Bread &amp; Butter</title><style>p { color: red }</style>
<script>alert("no")</script></head>
<body><nav><a href="/">Home</a> | <a href="/about">About</a></nav>
<h1>Baking   bread</h1>
<p>Mix the flour
   and the water.</p><p>Wait <b>two</b> hours.<br>Then bake.</p>
<!-- tracking pixel -->
<ul><li>flour</li><li>water</li></ul>
<table><tr><th>Step</th><th>Minutes</th></tr><tr><td>Knead</td><td>10</td></tr></table>
<pre>line one
    indented line</pre>
<div>Caf&eacute; at the end</div><noscript>enable JS</noscript>
<script type="application/ld+json">{"a": 1}</script>
</body></html>"""
    doc = read_document(_write(tmp_path / "bread.html", page.encode()))
    assert doc.kind == "html" and doc.title == "Bread & Butter" and doc.encoding == "utf-8"
    assert doc.text == ("Baking bread\n\nMix the flour and the water.\n\nWait two hours.\nThen bake.\n\n"
                        "- flour\n- water\n\nStep | Minutes\nKnead | 10\n\n"
                        "line one\n    indented line\n\nCafé at the end")


def test_html_declared_charset_and_h1_title(tmp_path):
    page = ('<html><head><meta charset="windows-1252"></head>'
            '<body><h1>Menu</h1><p>Crème brûlée 7 €</p></body></html>')
    doc = read_document(_write(tmp_path / "menu.htm", page.encode("cp1252")))
    assert doc.encoding == "cp1252" and doc.title == "Menu"
    assert doc.text == "Menu\n\nCrème brûlée 7 €"


def test_html_labels_latin1_is_read_as_windows_1252_and_a_bom_wins(tmp_path):
    # Browsers read "iso-8859-1" pages as windows-1252, where byte 0x80 is the euro sign.
    page = b'<meta http-equiv="Content-Type" content="text/html; charset=iso-8859-1"><p>\x80 5 caf\xe9</p>'
    doc = read_document(_write(tmp_path / "latin.html", page))
    assert doc.text == "€ 5 café" and doc.encoding == "cp1252"
    utf16 = read_document(_write(tmp_path / "utf16.html", "<p>Grüße</p>".encode("utf-16")))
    assert utf16.text == "Grüße" and utf16.encoding == "utf-16"


def test_deeply_nested_html_does_not_overflow(tmp_path):
    page = "<div>" * 3000 + "<p>deep</p>" + "</div>" * 3000
    assert read_document(_write(tmp_path / "deep.html", page.encode())).text == "deep"


def test_html_with_only_scripts_has_no_text(tmp_path):
    page = b"<html><head><title>App</title></head><body><script>run()</script></body></html>"
    assert _reason(_write(tmp_path / "app.html", page)) == "The file has no text in it."


# --- Word ----------------------------------------------------------------------------------------

def test_docx_paragraphs_and_table_in_document_order(tmp_path):
    path = write_docx(tmp_path / "report.docx", title="Quarterly Report",
                      paragraphs=["Sales went up.", "", "Costs went down."],
                      table=[["Region", "Sales"], ["North", "12 €"]])
    doc = read_document(path)
    assert doc.kind == "docx" and doc.title == "Quarterly Report" and doc.encoding is None
    assert doc.text == "Quarterly Report\n\nSales went up.\n\nCosts went down.\n\nRegion | Sales\nNorth | 12 €"
    assert read_document(write_docx(tmp_path / "memo.docx", title=None, paragraphs=["Hi"])).title == "memo"


def test_docx_merged_cells_are_read_once(tmp_path):
    path = write_docx(tmp_path / "merged.docx", title=None, paragraphs=["Intro"],
                      table=[["Heading across", ""], ["left", "right"]])
    document = docx.Document(path)
    merged = document.tables[0].cell(0, 0).merge(document.tables[0].cell(0, 1))
    merged.text = "Heading across"
    document.save(path)
    assert read_document(path).text == "Intro\n\nHeading across\nleft | right"


def test_damaged_word_documents(tmp_path):
    not_docx = tmp_path / "zip.docx"
    with zipfile.ZipFile(not_docx, "w") as archive:
        archive.writestr("hello.txt", "a zip, but not a Word document")
    assert _reason(not_docx).startswith("The Word document is damaged: ")
    garbage = _write(tmp_path / "garbage.docx", b"this is not a zip file at all" * 10)
    assert _reason(garbage).startswith("The Word document is damaged: ")
    old = _write(tmp_path / "old.docx", bytes.fromhex("d0cf11e0a1b11ae1") + bytes(500))
    assert "password-protected or in the old .doc format" in _reason(old)


# --- PDF -----------------------------------------------------------------------------------------

def test_pdf_text_pages_title_and_hyphenation(tmp_path):
    path = write_pdf(tmp_path / "paper.pdf", [["Hello (world) café €", "An exam-", "ple of text."],
                                              ["Second page"]], title="A Small Paper")
    doc = read_document(path)
    assert doc.kind == "pdf" and doc.pages == 2 and doc.title == "A Small Paper"
    assert doc.text == "Hello (world) café €\nAn example of text.\n\nSecond page"
    assert read_document(write_pdf(tmp_path / "no-title.pdf", [["x y"]])).title == "no-title"


@pytest.mark.parametrize("algorithm", ["RC4-128", "AES-128", "AES-256"])
def test_encrypted_pdfs(tmp_path, algorithm):
    plain = write_pdf(tmp_path / "plain.pdf", [["Top secret plans"]])
    locked = encrypt_pdf(plain, tmp_path / "locked.pdf", user_password="secret", algorithm=algorithm)
    assert _reason(locked).startswith("The PDF is password-protected.")
    # Only editing is restricted: anyone may open it, and so may we.
    restricted = encrypt_pdf(plain, tmp_path / "restricted.pdf", user_password="", algorithm=algorithm)
    assert read_document(restricted).text == "Top secret plans"


def test_pdf_of_scanned_images_has_no_text_layer(tmp_path):
    scanned = write_pdf(tmp_path / "scan.pdf", [None, None])
    assert _reason(scanned) == ("The PDF has no text layer (it is probably scanned images); SLM Desk "
                                "cannot read it. Run it through text recognition (OCR) first.")
    # A scanned page among typed ones costs only that page.
    assert read_document(write_pdf(tmp_path / "mixed.pdf", [None, ["typed"]])).text == "typed"


def test_damaged_pdfs(tmp_path):
    garbage = _write(tmp_path / "broken.pdf", b"%PDF-1.7\n" + random.Random(1).randbytes(3000))
    assert _reason(garbage).startswith("The PDF is damaged")
    truncated_source = write_pdf(tmp_path / "whole.pdf", [["some text"]]).read_bytes()
    truncated = _write(tmp_path / "truncated.pdf", truncated_source[:len(truncated_source) // 3])
    assert _reason(truncated).startswith("The PDF is damaged")
    assert _reason(_write(tmp_path / "word.pdf", b"Hello, I am text")).startswith("The PDF is damaged")


# --- collect_documents ---------------------------------------------------------------------------

def _tree(root: Path) -> None:
    _write(root / "a-notes.txt", b"first notes")
    _write(root / "b-empty.md", b"")
    _write(root / "photo.png", PNG_HEADER)                 # not a document: ignored in a folder
    _write(root / "budget.xlsx", b"PK\x03\x04")            # same
    _write(root / ".hidden.txt", b"hidden")                # hidden files are not collected
    _write(root / ".git" / "HEAD.txt", b"ref")             # nor hidden folders
    _write(root / "~$report.docx", b"lock")                # Word's lock file, not a document
    _write(root / "sub" / "deeper" / "c.html", b"<p>deep page</p>")
    _write(root / "sub" / "broken.pdf", b"%PDF-1.4\nnonsense")
    write_docx(root / "sub" / "report.docx", title="Report", paragraphs=["Body"])
    write_pdf(root / "sub" / "scan.pdf", [None])
    _write(root / "Z-binary.txt", PNG_HEADER + bytes(100))


def test_collect_reads_good_files_and_explains_bad_ones(tmp_path):
    root = tmp_path / "docs"
    _tree(root)
    explicit_bad = _write(tmp_path / "budget.xlsx", b"PK\x03\x04")
    again = root / "sub" / ".." / "a-notes.txt"           # the same file by another path
    result = collect_documents([root, explicit_bad, again, tmp_path / "missing.md"])

    assert [d.path.relative_to(root).as_posix() for d in result.documents] == \
        ["a-notes.txt", "sub/report.docx", "sub/deeper/c.html"]  # a folder's files, then subfolders
    assert all(isinstance(d, Document) for d in result.documents)
    reasons = {s.path.name: s.reason for s in result.skipped}
    assert reasons["Z-binary.txt"] == "This looks like a binary file, not text."
    assert reasons["b-empty.md"] == "The file is empty."
    assert reasons["broken.pdf"].startswith("The PDF is damaged")
    assert reasons["scan.pdf"].startswith("The PDF has no text layer")
    assert reasons["budget.xlsx"] == "SLM Desk cannot read .xlsx files; use txt, md, pdf, docx or html."
    assert reasons["missing.md"].startswith("The file does not exist")
    assert len(result.skipped) == 6  # the png, the folder's xlsx and the hidden files are not listed
    assert result.skipped[-2].path == explicit_bad
    assert result.total_characters == len("first notes") + len("deep page") + len("Report\n\nBody")


@pytest.mark.skipif(os.name != "posix", reason="symbolic links need privileges on Windows")
def test_collect_survives_a_symlink_loop(tmp_path):
    _write(tmp_path / "good.txt", b"fine")
    (tmp_path / "loop.txt").symlink_to(tmp_path / "loop.txt")
    result = collect_documents([tmp_path])
    assert [d.text for d in result.documents] == ["fine"]
    assert [s.path.name for s in result.skipped] == ["loop.txt"]
    assert result.skipped[0].reason.startswith("SLM Desk could not read the file: ")


def test_collect_reports_progress_and_can_be_cancelled(tmp_path):
    for name in ("one", "two", "three"):
        _write(tmp_path / f"{name}.txt", name.encode())
    calls = []
    result = collect_documents([tmp_path], progress=lambda done, total: calls.append((done, total)))
    assert calls == [(0, 3), (1, 3), (2, 3), (3, 3)] and not result.cancelled
    assert [d.text for d in result.documents] == ["one", "three", "two"]  # sorted by name

    stopped = collect_documents([tmp_path], progress=lambda done, total: done < 1)
    assert stopped.cancelled and [d.text for d in stopped.documents] == ["one"]


def test_collect_accepts_string_paths_and_single_files(tmp_path):
    path = _write(tmp_path / "Notes.TXT", b"upper-case suffix")
    result = collect_documents([str(path)])
    assert [d.text for d in result.documents] == ["upper-case suffix"] and result.skipped == []


def test_a_folder_given_that_holds_nothing_we_read_gets_a_line(tmp_path):
    empty = tmp_path / "a-folder.md"  # a folder, whatever its name says
    empty.mkdir()
    pictures = tmp_path / "pictures"
    _write(pictures / "one.png", b"\x89PNG")
    _write(pictures / "sub" / "two.jpg", b"\xff\xd8")
    single = tmp_path / "single"
    _write(single / "budget.xlsx", b"PK")
    result = collect_documents([empty, pictures, single])
    assert result.documents == []
    assert [(s.path, s.reason.split(";")[0]) for s in result.skipped] == [
        (empty, "This folder holds no documents we can read (0 files of other types)"),
        (pictures, "This folder holds no documents we can read (2 files of other types)"),
        (single, "This folder holds no documents we can read (1 file of another type)")]


def test_a_folder_with_documents_gets_no_extra_line(tmp_path):
    _write(tmp_path / "notes" / "a.txt", b"some notes")
    result = collect_documents([tmp_path / "notes"])
    assert [d.text for d in result.documents] == ["some notes"] and result.skipped == []


@pytest.mark.skipif(os.name != "posix", reason="symbolic links need privileges on Windows")
def test_a_dangling_link_is_reported_by_its_own_name(tmp_path):
    link = tmp_path / "dangling-link.txt"
    link.symlink_to(tmp_path / "gone.txt")
    in_folder = tmp_path / "folder"
    in_folder.mkdir()
    (in_folder / "also-dangling.md").symlink_to("nowhere.md")  # a relative target
    result = collect_documents([link, in_folder])
    assert [s.path for s in result.skipped] == [link, in_folder / "also-dangling.md"]
    assert result.skipped[0].reason == (f"This is a link to a missing file: it points to {tmp_path / 'gone.txt'}, "
                                        "which does not exist (it may have been moved or deleted).")
    assert result.skipped[1].reason.startswith("This is a link to a missing file: it points to nowhere.md,")
