"""The linear probe and the hidden features it reads."""

import pytest
import torch

from workbook.topics.probe import hidden_features, train_probe


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


def test_hidden_features_by_layer_on_a_tiny_model(tiny_llama):
    from workbook.topics.probe import hidden_features_by_layer

    model, tokenizer = tiny_llama
    texts = ["abc", "hello there, a longer text"]
    feats = hidden_features_by_layer(model, tokenizer, texts, layers=(0, -1))
    assert set(feats) == {0, -1} and feats[-1].shape == (2, model.config.hidden_size)
    single = hidden_features(model, tokenizer, texts, layer=-1)
    assert torch.allclose(single, feats[-1], atol=1e-5)
    alone = hidden_features(model, tokenizer, texts[:1], layer=-1)
    assert torch.allclose(alone[0], feats[-1][0], atol=1e-4)  # padding does not leak into the short text
