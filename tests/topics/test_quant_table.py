"""The chapter 06 size table: arithmetic, llama.cpp's figures, and clear errors for bad input."""

from __future__ import annotations

import pytest

from workbook.topics import quant_table as qt
from workbook.topics.memory import PRECISION_BYTES, bits_per_param


def test_seed_70b_fp32_is_280_gb():
    assert qt.size_gb(70e9, "FP32") == pytest.approx(280.0)
    assert qt.size_gb(70e9, "BF16/FP16") == pytest.approx(140.0)
    assert qt.size_gb(7e9, "INT4") == pytest.approx(3.5)
    corrected = {row["format"]: row for row in qt.seed_correction(70e9)}
    assert corrected["FP32"]["computed_GB"] == 280.0 and corrected["FP32"]["seed_off_by"] == 2.0


def test_block_bits_come_from_gguf_constants():
    assert qt.block_bits("Q8_0") == pytest.approx(8.5)
    assert qt.block_bits("Q4_K") == pytest.approx(4.5)
    assert qt.block_bits("Q2_K") == pytest.approx(2.625)
    assert qt.block_bits("Q6_K") == pytest.approx(6.5625)
    with pytest.raises(ValueError, match="Unknown GGML type"):
        qt.block_bits("Q9_Z")


def test_gguf_levels_use_published_llama3_sizes():
    # Q8_0 published 7.96 GiB for Llama-3-8B: average ~8.5 bits, matching the pure block figure.
    assert qt.gguf_bits("Q8_0") == pytest.approx(8.5, abs=0.05)
    assert qt.gguf_bits("Q4_K_M") == pytest.approx(4.90, abs=0.01)
    levels = [row["level"] for row in qt.gguf_sources()]
    assert levels[0] == "Q2_K" and levels[-1] == "Q8_0"
    # A mix never averages fewer bits than its base block type.
    assert all(row["avg_bits"] >= row["block_bits"] - 0.01 for row in qt.gguf_sources())


def test_nf4_double_quant_bits_come_from_the_one_formula():
    nf4_dq = qt.bits_per_weight()["NF4 (+double quant)"]
    assert nf4_dq == pytest.approx(4.127, abs=1e-3)
    assert nf4_dq == bits_per_param(double_quant=True) == PRECISION_BYTES["nf4-dq"] * 8


@pytest.mark.parametrize(
    ("text", "params"),
    [("7B", 7e9), ("135M", 135e6), ("1.5b", 1.5e9), ("7e9", 7e9), ("70,000,000,000", 70e9), (8e9, 8e9), ("1T", 1e12)],
)
def test_parse_size(text, params):
    assert qt.parse_size(text) == pytest.approx(params)


@pytest.mark.parametrize(
    ("bad", "message"),
    [(-7e9, "positive"), (0, "positive"), ("-7B", "Cannot read"), ("seven", "Cannot read"), ("12", "under a million"),
     ("5000T", "beyond 10 trillion"), (float("nan"), "positive"), (True, "not True/False"), ("", "Cannot read")],
)  # fmt: skip
def test_bad_sizes_get_clear_messages(bad, message):
    with pytest.raises(ValueError, match=message):
        qt.size_table(bad)


def test_unknown_format_is_named():
    with pytest.raises(ValueError, match="Unknown format 'Q4_K_XL'"):
        qt.size_gb(7e9, "Q4_K_XL")
    with pytest.raises(ValueError, match="Unknown format"):
        qt.size_table("7B", formats=("FP32", "FP7"))


def test_table_rows_and_text():
    rows = qt.size_table("7B")
    assert [r.fmt for r in rows] == list(qt.FORMATS)
    assert rows[0].ratio_to_fp32 == 1.0 and rows[0].gb == pytest.approx(28.0)
    assert "GGUF Q4_K_M" in qt.format_table(rows)


def test_plot_builds_headless():
    import matplotlib

    matplotlib.use("Agg")
    ax = qt.plot_sizes(qt.size_table("135M"), title="t")
    assert len(ax.patches) == len(qt.FORMATS)


def test_seed_002_tables_for_7b():
    gguf = {row["format"]: row for row in qt.seed_correction(7e9, qt.SEED_002_7B_GGUF)}
    assert gguf["GGUF Q8_0"]["computed_GB"] == pytest.approx(7.45, abs=0.01)  # the seed says ~9.0
    assert gguf["BF16/FP16"]["seed_off_by"] == 1.0
    plain = qt.seed_correction(7e9, qt.SEED_002_7B_PRECISIONS)
    assert all(row["seed_off_by"] == 1.0 for row in plain)  # that table is right


def test_q4_1_is_five_bits_per_weight():
    assert qt.block_bits("Q4_1") == 5.0  # 32 4-bit codes + fp16 scale + fp16 minimum = 20 bytes per 32 weights
