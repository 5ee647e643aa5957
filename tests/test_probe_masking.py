import pytest
import torch

from workbook.topics.masking import label_spans, mask_counts, spans_html, spans_text
from workbook.topics.probe import hidden_features, train_probe


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
    assert "label = -100" in spans_html(spans) and "&lt;" in spans_html([("<", True)])


def test_spans_bad_inputs():
    with pytest.raises(ValueError, match="align"):
        label_spans(CharTokenizer(), [1, 2], [1])
    with pytest.raises(ValueError, match="unshifted"):
        label_spans(CharTokenizer(), [1, 2], [2, -100])
    with pytest.raises(ValueError, match="batch"):
        label_spans(CharTokenizer(), [[1], [2]], [[1], [2]])


def test_probe_learns_separable_classes():
    torch.manual_seed(0)
    a = torch.randn(30, 5) + torch.tensor([3.0, 0, 0, 0, 0])
    b = torch.randn(30, 5) - torch.tensor([3.0, 0, 0, 0, 0])
    x, y = torch.cat([a, b]), ["a"] * 30 + ["b"] * 30
    probe = train_probe(x, y)
    assert probe.classes == ["a", "b"]
    assert probe.accuracy(x, y) > 0.95
    with pytest.raises(ValueError, match="labels"):
        probe.accuracy(x, y[:-1])


def test_probe_bad_inputs():
    with pytest.raises(ValueError, match="two classes"):
        train_probe(torch.zeros(3, 2), ["a"] * 3)
    with pytest.raises(ValueError, match="one label per row"):
        train_probe(torch.zeros(3, 2), ["a", "b"])


def test_hidden_features_bad_inputs():
    class Cfg:
        num_hidden_layers = 2

    class Model:
        config = Cfg()

    with pytest.raises(ValueError, match="No texts"):
        hidden_features(Model(), None, [])
    with pytest.raises(ValueError, match="layer"):
        hidden_features(Model(), None, ["x"], layer=5)


def test_hidden_features_by_layer_on_a_tiny_model():
    from transformers import LlamaConfig, LlamaForCausalLM

    from workbook.topics.probe import hidden_features_by_layer

    class Tok:
        pad_token, eos_token = "<p>", "<p>"

        def __call__(self, texts, return_tensors, padding):
            width = max(len(t) for t in texts)
            ids = torch.tensor([[ord(c) % 50 for c in t] + [0] * (width - len(t)) for t in texts])
            mask = torch.tensor([[1] * len(t) + [0] * (width - len(t)) for t in texts])
            return _Batch(input_ids=ids, attention_mask=mask)

    class _Batch(dict):
        def to(self, device):
            return self

    config = LlamaConfig(vocab_size=50, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2)
    model = LlamaForCausalLM(config)
    feats = hidden_features_by_layer(model, Tok(), ["abc", "hello"], layers=(0, -1))
    assert set(feats) == {0, -1} and feats[-1].shape == (2, 16)
    single = hidden_features(model, Tok(), ["abc", "hello"], layer=-1)
    assert torch.allclose(single, feats[-1], atol=1e-5)
