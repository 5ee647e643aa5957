"""workbook.evidence.packet: the parsers the gates and the writers share."""

from __future__ import annotations

import json

from workbook.evidence.packet import png_text_chunks
from workbook.evidence.schema import LOSS_POINTS_KEY


def test_png_text_chunks_roundtrip(packet):
    chunks = png_text_chunks((packet / "loss_curve.png").read_bytes())
    points = json.loads(chunks[LOSS_POINTS_KEY])
    assert points["loss"][0] == [1, 2.9] and points["eval_loss"] == [[10, 2.5]]
