import pytest

from workbook.ui.compare import side_by_side_html, side_by_side_text


def test_html_escapes_and_keeps_rows():
    page = side_by_side_html([["<b>q</b>", "a\nb"]], ["prompt", "answer"])
    assert "&lt;b&gt;q" in page and page.count("<tr>") == 2


def test_text_wraps_columns():
    text = side_by_side_text([["short", "a much longer answer " * 4]], ["prompt", "answer"], width=20)
    assert text.splitlines()[0].startswith("prompt")
    assert all(len(line) <= 20 * 2 + 3 for line in text.splitlines())


def test_bad_inputs():
    with pytest.raises(ValueError, match="cells"):
        side_by_side_html([["only one"]], ["a", "b"])
    with pytest.raises(ValueError, match="header"):
        side_by_side_text([], [])
    with pytest.raises(ValueError, match="width"):
        side_by_side_text([["a"]], ["a"], width=2)
