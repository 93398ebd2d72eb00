"""Cutting documents into passages: sizes, overlap, line numbers, and the heading each one names."""

from __future__ import annotations

from slmdesk.core.documents.chunking import MAX_CHARACTERS, TARGET_CHARACTERS, chunk_document, chunk_text
from slmdesk.core.documents.collect import read_document


def _sentences(label: str, count: int) -> str:
    return " ".join(f"The {label} sentence number {n} says something worth keeping." for n in range(count))


def test_line_numbers_are_where_each_passage_starts():
    text = "\n\n".join(f"Paragraph {n}.\n" + _sentences(f"p{n}", 8) for n in range(40))
    chunks = chunk_text(text)
    assert len(chunks) > 20
    for chunk in chunks:
        assert chunk.line == text.count("\n", 0, chunk.start) + 1
        assert len(chunk.text) <= MAX_CHARACTERS + 1


def test_a_heading_starts_a_passage_and_every_passage_of_a_section_names_it(tmp_path):
    path = tmp_path / "guide.md"
    path.write_text("Before any heading: a preamble line.\n\n# Guide\n\n## Garden\n\n" + _sentences("garden", 40)
                    + "\n\n## Kitchen\n\nThe oven runs hot.\n", encoding="utf-8")
    document = read_document(path, with_places=True)
    assert document.headings == ((3, "Guide"), (5, "Garden"), (9, "Kitchen"))
    chunks = chunk_document(document)
    assert chunks[0].heading is None and chunks[0].text == "Before any heading: a preamble line."
    # Headings in a row stay together; the passage starts at the first and names the last, the
    # one its text is under, as do the passages after it in the section.
    assert chunks[1].text.startswith("Guide Garden The garden sentence number 0") and chunks[1].line == 3
    garden = [chunk for chunk in chunks if "garden sentence" in chunk.text]
    assert len(garden) >= 3 and all(len(chunk.text) <= TARGET_CHARACTERS + 100 for chunk in garden)
    assert [chunk.heading for chunk in garden] == ["Garden"] * len(garden)
    # The kitchen passage carries no overlap from the garden, and names its own heading.
    assert chunks[-1].text == "Kitchen The oven runs hot." and (chunks[-1].heading, chunks[-1].line) == ("Kitchen", 9)


def test_without_places_a_document_has_no_headings_and_pdf_pages_name_none(tmp_path):
    from tests.document_factory import write_pdf

    path = tmp_path / "notes.md"
    path.write_text("# Notes\n\nSome text.\n", encoding="utf-8")
    assert read_document(path).headings == ()
    pdf = read_document(write_pdf(tmp_path / "a.pdf", [["Heading"], ["Body text."]]), with_places=True)
    assert pdf.headings == () and [(c.page, c.heading) for c in chunk_document(pdf)] == [(1, None), (2, None)]


def test_past_the_most_headings_kept_passages_name_none_rather_than_a_wrong_one(tmp_path, monkeypatch):
    from slmdesk.core.documents import _readers, _text

    for module in (_text, _readers):
        monkeypatch.setattr(module, "MAX_HEADINGS", 3)
    path = tmp_path / "many.md"
    path.write_text("".join(f"## Part {n}\n\nThe text of part {n}.\n\n" for n in range(1, 6)), encoding="utf-8")
    html = tmp_path / "many.html"
    html.write_text("".join(f"<h2>Part {n}</h2><p>The text of part {n}.</p>" for n in range(1, 6)), encoding="utf-8")
    for document in (read_document(path, with_places=True), read_document(html, with_places=True)):
        chunks = chunk_document(document)
        assert [chunk.heading for chunk in chunks] == ["Part 1", "Part 2", "Part 3", None]
        assert chunks[-1].text == "Part 4 The text of part 4. Part 5 The text of part 5."  # cut by size alone
