"""Fuzzing the PDF, Word and HTML readers with mutated real documents (see tests/fuzzing.py).

Seeds (``fuzz_corpus/``): a two-page PDF as our factory writes it, the same PDF with compressed
streams as pypdf writes it, a Word document from python-docx with a title, paragraphs and a table,
and a web page with the parts the HTML reader treats specially. Mutations are byte-level (flips,
cuts, splices) plus the format's own tokens spliced in (PDF keywords and absurd lengths, deep or
broken HTML, bogus charsets, XML entities); a Word document is mutated inside its zip, on
``word/document.xml``, so the cases reach python-docx and not only zipfile's checksum.

Each case must end in a :class:`Document` or a :class:`DocumentError` with a plain message, within a
CPU-time and memory bound. Inputs that once broke that rule live in ``fuzz_crashers/``.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from hypothesis import strategies as st
from pypdf import PdfReader, PdfWriter

from slmdesk.core.documents.collect import Document, DocumentError, read_document
from tests.document_factory import write_docx, write_pdf
from tests.fuzzing import bounded, fuzz, keep_crasher, plain_message_problem

CORPUS = Path(__file__).parent / "fuzz_corpus"
CRASHERS = Path(__file__).parent / "fuzz_crashers"
CPU_SECONDS = 5.0
MAX_BYTES = 128 * 1024 * 1024
DOCX_PART = "word/document.xml"

TOKENS = {
    ".pdf": [b"obj", b"endobj", b"stream", b"endstream", b"xref", b"trailer", b"startxref\n0\n", b"%%EOF",
             b"<<", b">>", b"[", b"]", b"(", b")", b"/Length 999999999", b"/Length -1", b"/Filter /FlateDecode",
             b"/Filter /LZWDecode", b"/Type /Pages /Count 99999999", b"/Kids [1 0 R]", b"1 0 R", b"99999 0 R",
             b"/Encrypt 1 0 R", b"9" * 40, b"-0.0000001", b"\\", b"\xff\xfe", b"\x00"],
    ".html": [b"<div>" * 2000, b"<table><tr><td>", b"</td><td>", b"<pre>", b"</pre>", b"<br>" * 500,
              b"<li>", b"<script>", b"<style>", b"<!--", b"-->", b"<![CDATA[", b"<meta charset=utf-7>",
              b'<meta charset="no-such-codec">', b'<meta charset="utf-16">', b"<title>", b"&#x110000;",
              b"&#0;", b"&nbsp;" * 100, b"\xef\xbb\xbf", b"\xff\xfe", b"\x00", b"\x1b[2J", b"\r", b"<h1>"],
    ".docx": [b"<w:p><w:r><w:t>added</w:t></w:r></w:p>", b"<w:tbl><w:tr><w:tc><w:p/></w:tc></w:tr></w:tbl>",
              b"<w:tbl><w:tr><w:tc>" * 40 + b"<w:p/>" + b"</w:tc></w:tr></w:tbl>" * 40,
              b'<w:tbl><w:tr><w:tc><w:tcPr><w:gridSpan w:val="99999999"/></w:tcPr><w:p/></w:tc></w:tr></w:tbl>',
              b'<w:tbl><w:tr><w:tc><w:tcPr><w:vMerge w:val="continue"/></w:tcPr><w:p/></w:tc></w:tr></w:tbl>',
              b"<w:p>", b"</w:p>", b"<w:tbl><w:tr><w:tc>", b"</w:tc></w:tr></w:tbl>", b"<w:t>", b"</w:t>",
              b'<w:gridSpan w:val="99999999"/>', b'<w:vMerge w:val="restart"/>', b"<w:p>" * 2000,
              b'<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>', b"&b;",
              b'<w:pStyle w:val="Title"/>', b"\xff", b"\x00", b"]]>", b'xmlns:w="x"'],
}


def write_seeds() -> None:
    """Regenerate ``fuzz_corpus/`` (``python -c "from tests.core.documents.test_fuzz_readers import
    write_seeds; write_seeds()"``)."""
    CORPUS.mkdir(exist_ok=True)
    pdf = write_pdf(CORPUS / "two-pages.pdf", [["A first page of notes,", "with a hyphen-", "ated word."],
                                                ["Second page: 3 items | a table?"]], title="Fuzz seed")
    writer = PdfWriter(clone_from=PdfReader(pdf))
    for page in writer.pages:
        page.compress_content_streams()
    with (CORPUS / "compressed.pdf").open("wb") as stream:
        writer.write(stream)
    write_docx(CORPUS / "notes.docx", title="Meeting notes", paragraphs=["First point.", "Second, longer point."],
               table=[["Name", "Role"], ["Ada", "Chair"]])
    (CORPUS / "page.html").write_bytes(
        b'<!DOCTYPE html><html><head><meta charset="utf-8"><title>A page</title><style>p{}</style>'
        b"<script>var x = '<p>no</p>';</script></head><body><nav>Menu</nav><h1>Heading \xc3\xa9</h1>"
        b"<p>One <b>bold</b> paragraph&nbsp;here.<br>Next line.</p><ul><li>first</li><li>second</li></ul>"
        b"<table><tr><th>A</th><th>B</th></tr><tr><td>1</td><td>2</td></tr></table>"
        b"<pre>  kept\n    layout</pre><!-- a comment --></body></html>")


def seeds() -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(CORPUS.iterdir())}


def _mutations(suffix: str) -> st.SearchStrategy[tuple]:
    where = st.integers(0, 2**32)
    return st.one_of(
        st.tuples(st.just("flip"), where, st.integers(1, 255)),
        st.tuples(st.just("cut"), where),
        st.tuples(st.just("splice"), where, st.binary(max_size=32), st.integers(0, 32)),
        st.tuples(st.just("token"), where, st.sampled_from(TOKENS[suffix]), st.integers(0, 8)),
        st.tuples(st.just("repeat"), where, st.integers(1, 400), st.integers(1, 20)),
    )


def mutate(data: bytes, mutations: list[tuple], at_tags: bool = False) -> bytes:
    """Apply ``mutations``; with ``at_tags`` each lands just before a Word element (``<w:``), so
    the XML is often still XML and the case reaches python-docx."""
    out = bytearray(data)
    for kind, where, *args in mutations:
        position = where % max(1, len(out))
        if at_tags and (tags := [i for i in range(len(out)) if out.startswith(b"<w:", i)]):
            position = tags[where % len(tags)]
        if kind == "flip" and out:
            out[position] ^= args[0]
        elif kind == "cut":
            del out[position:]
        elif kind == "splice":
            out[position:position + args[1]] = args[0]
        elif kind == "token":
            out[position:position + args[1]] = args[0]
        elif kind == "repeat":  # a slice many times over: deep nesting, long runs
            out[position:position] = bytes(out[position:position + args[1]]) * args[0]
    return bytes(out)


def mutate_docx(data: bytes, mutations: list[tuple], inside: bool) -> bytes:
    """Mutate the parts inside the zip at tag boundaries (``inside``; mostly the document part, else
    another part chosen by the first mutation), or the zip's own bytes."""
    if not inside:
        return mutate(data, mutations)
    source, target = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    names = source.namelist()
    chosen = DOCX_PART if mutations[0][1] % 4 else names[mutations[0][1] // 4 % len(names)]
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for item in source.infolist():
            part = source.read(item)
            archive.writestr(item.filename, mutate(part, mutations, at_tags=True) if item.filename == chosen else part)
    return target.getvalue()


def check_document(path: Path) -> str:
    """Read ``path`` within the bounds; fail unless it gives a Document or a plain DocumentError."""
    with bounded(cpu_seconds=CPU_SECONDS, max_bytes=MAX_BYTES):
        try:
            document = read_document(path)
        except DocumentError as err:
            assert (problem := plain_message_problem(err.message)) is None, problem
            assert isinstance(err.detail, str)
            return "refused"
    assert isinstance(document, Document) and document.text and document.characters == len(document.text)
    assert isinstance(document.title, str) and document.title
    return "read"


def _fuzz(tmp_path: Path, suffix: str, examples: int, share: float) -> dict[str, int]:
    corpus = {name: data for name, data in seeds().items() if name.endswith(suffix)}
    outcomes: dict[str, int] = {}
    target = tmp_path / f"case{suffix}"

    def check(case: tuple[str, list[tuple], bool]) -> None:
        name, mutations, inside = case
        data = (mutate_docx(corpus[name], mutations, inside) if suffix == ".docx"
                else mutate(corpus[name], mutations))
        target.write_bytes(data)
        try:
            outcome = check_document(target)
        except AssertionError:
            print(f"crasher kept as {keep_crasher(data, suffix)}")
            raise
        outcomes[outcome] = outcomes.get(outcome, 0) + 1

    cases = st.tuples(st.sampled_from(sorted(corpus)), st.lists(_mutations(suffix), min_size=1, max_size=4),
                      st.booleans())
    fuzz(cases, check, examples=examples, name=f"{suffix} reader", share=share)
    print(f"outcomes: {outcomes}")
    assert set(outcomes) == {"read", "refused"}, outcomes  # the mutations neither all fail nor all pass
    return outcomes


def test_every_seed_reads_before_mutation() -> None:
    assert sorted(seeds()) == ["compressed.pdf", "notes.docx", "page.html", "two-pages.pdf"]
    for name in seeds():
        assert check_document(CORPUS / name) == "read"


@pytest.mark.parametrize(("suffix", "examples"), [(".pdf", 500), (".docx", 300), (".html", 500)])
def test_mutated_documents_end_in_text_or_a_plain_error(tmp_path: Path, suffix: str, examples: int) -> None:
    _fuzz(tmp_path, suffix, examples, share=0.5 / 3)  # the GGUF fuzz tests take the other half


@pytest.mark.parametrize("crasher", sorted(CRASHERS.glob("*.*")), ids=lambda path: path.name)
def test_inputs_that_once_broke_the_rule(crasher: Path) -> None:
    check_document(crasher)
