"""Absmax quantization from scratch, agreement metrics and GGUF reading (on the offline model's own file)."""

from __future__ import annotations

import pytest
import torch

from workbook.topics.quantization import (
    absmax_quantize,
    agreement,
    bnb_roundtrip,
    dequantize,
    first_divergence,
    gguf_metadata,
    gguf_tensors,
    gguf_type_summary,
    roundtrip_error,
)


def test_absmax_int8_roundtrip_is_within_half_a_step():
    torch.manual_seed(0)
    w = torch.randn(64, 96)
    q = absmax_quantize(w, 8)
    assert q.codes.dtype == torch.int8 and q.codes.abs().max() == 127
    err = roundtrip_error(w, dequantize(q))
    assert err["max_abs"] <= q.scales.max().item() / 2 + 1e-6
    assert dequantize(q).shape == w.shape


def test_blocks_reduce_int4_error_and_zero_stays_zero():
    torch.manual_seed(0)
    w = torch.randn(32, 128)
    w[0, 0] = 50.0  # one outlier spoils a tensor-wide scale
    whole = roundtrip_error(w, dequantize(absmax_quantize(w, 4)))["relative"]
    blocks = roundtrip_error(w, dequantize(absmax_quantize(w, 4, block_size=64)))["relative"]
    assert blocks < whole
    z = torch.zeros(10)
    assert torch.equal(dequantize(absmax_quantize(z, 8, block_size=4)), z)  # padding and all-zero blocks


def test_bad_quantization_arguments():
    with pytest.raises(ValueError, match="bits=3"):
        absmax_quantize(torch.ones(4), 3)
    with pytest.raises(ValueError, match="block_size"):
        absmax_quantize(torch.ones(4), 8, block_size=0)
    with pytest.raises(ValueError, match="empty"):
        absmax_quantize(torch.ones(0), 8)
    with pytest.raises(ValueError, match="Unknown bitsandbytes kind"):
        bnb_roundtrip(torch.ones(4, 4), "int3")


def test_our_rowwise_int8_matches_bitsandbytes():
    torch.manual_seed(0)
    w = torch.randn(64, 128) * 0.05
    ours = dequantize(absmax_quantize(w, 8, block_size=w.shape[1]))
    theirs = bnb_roundtrip(w, "int8")
    assert roundtrip_error(ours, theirs)["relative"] < 0.01
    assert roundtrip_error(w, bnb_roundtrip(w, "nf4"))["relative"] < 0.2


def test_agreement_and_divergence():
    assert agreement([1, 2, 3, 4], [1, 2, 3, 4]) == 1.0
    assert agreement([1, 2, 3, 4], [1, 9, 3, 4]) == 0.75
    assert first_divergence([1, 2, 3], [1, 2, 5]) == 2
    assert first_divergence([1, 2], [1, 2]) == 2
    with pytest.raises(ValueError):
        agreement([], [1])


def test_reads_the_offline_gguf_file():
    from workbook.core.models import offline_gguf_path

    path = offline_gguf_path()
    meta = gguf_metadata(path)
    assert meta["general.architecture"] == "llama"
    assert meta["llama.embedding_length"] == 576
    assert str(meta["tokenizer.ggml.tokens"]).startswith("[49152 items")
    tensors = gguf_tensors(path)
    summary = {row["type"]: row for row in gguf_type_summary(tensors)}
    assert summary["Q4_1"]["bits_per_weight"] == pytest.approx(5.0)
    assert summary["Q8_0"]["bits_per_weight"] == pytest.approx(8.5)
    assert sum(t.n_elements for t in tensors) == 134_515_008
