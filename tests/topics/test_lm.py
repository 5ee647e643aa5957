"""The language-model measurements: loss series from a trainer log, the loss plot, perplexity."""

import math

import matplotlib
import pytest

from workbook.topics import lm

matplotlib.use("Agg")


def test_loss_history_and_plot():
    log = [{"loss": 3.0, "step": 1}, {"eval_loss": 2.9, "step": 1}, {"loss": 2.5, "step": 2}, {"train_runtime": 1}]
    assert lm.loss_history(log) == {"loss": [(1, 3.0), (2, 2.5)], "eval_loss": [(1, 2.9)]}
    assert lm.loss_history(log, ["loss", "rewards/margins"]) == {"loss": [(1, 3.0), (2, 2.5)], "rewards/margins": []}
    assert lm.plot_loss(log).get_title() == "Training loss"
    with pytest.raises(ValueError, match="logging_steps"):
        lm.plot_loss([{"train_runtime": 1}])


def test_perplexity_on_the_real_model(offline_model):
    model, tokenizer = offline_model
    fluent = lm.perplexity(model, tokenizer, ["The capital of France is Paris."])
    scrambled = lm.perplexity(model, tokenizer, ["Paris France capital is the of The."])
    assert 1 < fluent < scrambled
    assert math.isclose(math.log(fluent), lm.mean_token_nll(model, tokenizer, ["The capital of France is Paris."]))
    with pytest.raises(ValueError, match="No texts"):
        lm.perplexity(model, tokenizer, [])
