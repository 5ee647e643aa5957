"""JSONL reading with clear errors, and the language-model measurements."""

import math

import matplotlib
import pytest

from workbook.core import io as data
from workbook.topics import lm

matplotlib.use("Agg")


def test_jsonl_round_trip(tmp_path):
    rows = [{"q": "Was ist DSGVO?", "a": "Datenschutz"}, {"q": "2", "a": "3"}]
    path = data.write_jsonl(tmp_path / "x.jsonl", rows)
    assert data.read_jsonl(path, required=("q", "a")) == rows
    assert len(data.sha256_file(path)) == 64


def test_malformed_line_is_named(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"q": 1}\n{not json\n')
    with pytest.raises(data.DataFileError, match="bad.jsonl, line 2"):
        data.read_jsonl(path)
    with pytest.warns(UserWarning, match="line 2"):
        assert data.read_jsonl(path, on_error="skip") == [{"q": 1}]


def test_missing_keys_and_missing_file(tmp_path):
    path = data.write_jsonl(tmp_path / "x.jsonl", [{"q": 1}])
    with pytest.raises(data.DataFileError, match=r"missing keys \['a'\]"):
        data.read_jsonl(path, required=("q", "a"))
    with pytest.raises(data.DataFileError, match="does not exist"):
        data.read_jsonl(tmp_path / "nope.jsonl")


def test_loss_history_and_plot():
    log = [{"loss": 3.0, "step": 1}, {"eval_loss": 2.9, "step": 1}, {"loss": 2.5, "step": 2}, {"train_runtime": 1}]
    assert lm.loss_history(log) == {"loss": [(1, 3.0), (2, 2.5)], "eval_loss": [(1, 2.9)]}
    assert lm.plot_loss(log).get_title() == "Training loss"
    with pytest.raises(ValueError, match="logging_steps"):
        lm.plot_loss([{"train_runtime": 1}])


def test_perplexity_on_the_real_model():
    from workbook.core.models import load_model

    model, tokenizer = load_model()
    fluent = lm.perplexity(model, tokenizer, ["The capital of France is Paris."])
    scrambled = lm.perplexity(model, tokenizer, ["Paris France capital is the of The."])
    assert 1 < fluent < scrambled
    assert math.isclose(math.log(fluent), lm.mean_token_nll(model, tokenizer, ["The capital of France is Paris."]))
    with pytest.raises(ValueError, match="No texts"):
        lm.perplexity(model, tokenizer, [])
