"""Lines split across reads come out whole; blank lines are dropped; the tail is flushed at exit."""

from slmdesk.ui.processes.line_buffer import LineBuffer


def test_pieces_become_whole_lines():
    buffer = LineBuffer()
    assert buffer.feed(b'{"a":') == []
    assert buffer.feed(b' 1}\n\n  \n{"b": 2}\n{"c"') == [b'{"a": 1}', b'{"b": 2}']
    assert buffer.feed(b': 3}') == []
    assert buffer.flush() == [b'{"c": 3}']
    assert buffer.flush() == []
