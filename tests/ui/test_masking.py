"""Loss-masking spans as coloured, escaped HTML chips."""

from workbook.ui.masking import MASKED_STYLE, TRAINED_STYLE, spans_html


def test_spans_html_colours_and_escapes():
    page = spans_html([("Q\n", False), ("<", True)])
    assert "label = -100" in page and "&lt;" in page and "Q\\n" in page
    assert page.count(MASKED_STYLE) == 2 and page.count(TRAINED_STYLE) == 2  # legend + one chip each
