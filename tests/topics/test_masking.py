"""Which tokens the loss sees, from the labels a collator built."""

import pytest
import torch

from workbook.topics.masking import label_spans, mask_counts, spans_text


class CharTokenizer:
    def decode(self, ids):
        return "".join(chr(i) for i in ids)


def test_spans_follow_labels():
    ids = [ord(c) for c in "Q?A!"]
    labels = [-100, -100, ord("A"), ord("!")]
    spans = label_spans(CharTokenizer(), torch.tensor([ids]), torch.tensor([labels]))
    assert spans == [("Q", False), ("?", False), ("A", True), ("!", True)]
    assert mask_counts(labels) == (2, 2)
    assert spans_text(spans) == "Q?[A][!]"


def test_spans_bad_inputs():
    with pytest.raises(ValueError, match="align"):
        label_spans(CharTokenizer(), [1, 2], [1])
    with pytest.raises(ValueError, match="unshifted"):
        label_spans(CharTokenizer(), [1, 2], [2, -100])
    with pytest.raises(ValueError, match="batch"):
        label_spans(CharTokenizer(), [[1], [2]], [[1], [2]])
