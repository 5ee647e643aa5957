"""The linear probe, the hidden features it reads, and the fine-tune it is compared with."""

import math

import pytest
import torch

from workbook.topics.probe import fine_tune, hidden_features, train_probe

TEXTS = ["my card was charged twice", "the app crashes at start", "where is my parcel?", "refund my invoice",
         "the login page shows an error", "the courier never came"]  # fmt: skip
LABELS = ["billing", "technical", "delivery"] * 2


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


def test_fine_tune_trains_an_fp32_copy_of_an_fp16_model(tiny_llama):
    model, tokenizer = tiny_llama
    model.half()  # what load_model() gives on a T4
    before = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    tuned = fine_tune(model, tokenizer, TEXTS, LABELS, steps=3, batch_size=4, lr=1e-3)
    weights = [*tuned.backbone.parameters(), *tuned.head.parameters()]
    assert all(torch.isfinite(w).all() for w in weights), "a training step left NaN or inf in the weights"
    assert len(tuned.losses) == 3 and all(math.isfinite(loss) for loss in tuned.losses)
    assert tuned.trainable == sum(w.numel() for w in weights)
    assert 0.0 <= tuned.accuracy(TEXTS, LABELS) <= 1.0
    assert model.dtype == torch.float16 and all(torch.equal(t, before[n]) for n, t in model.state_dict().items())


def test_fine_tune_bad_inputs(tiny_llama):
    model, tokenizer = tiny_llama
    with pytest.raises(ValueError, match="one label per text"):
        fine_tune(model, tokenizer, TEXTS, LABELS[:-1], steps=1)
    with pytest.raises(ValueError, match="two classes"):
        fine_tune(model, tokenizer, TEXTS, ["billing"] * len(TEXTS), steps=1)
