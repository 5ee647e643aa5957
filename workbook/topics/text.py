"""Text normalisation: the one key under which two texts count as "the same words", shared by data curation
(duplicate and leakage checks, chapter 09) and the answer metrics (`workbook.eval.metrics`).
"""

from __future__ import annotations

import re
import unicodedata

# Apostrophes are dropped (so "Article's" -> "articles"); other punctuation becomes a space, except that
# a decimal point or thousands separator between digits is kept so "4.5" and "20,000" stay one token.
_APOSTROPHES = re.compile(r"['\u2019`]")
_PUNCTUATION = re.compile(r"(?<!\d)[.,]|[.,](?!\d)|[^\w\s.,]")
_SPACES = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Lowercase, strip accents and punctuation (keeping numbers such as "4.5" whole), collapse spaces."""
    if not isinstance(text, str):
        raise TypeError(f"Expected a string, got {type(text).__name__}.")
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = _APOSTROPHES.sub("", text)
    text = _PUNCTUATION.sub(" ", text)
    return _SPACES.sub(" ", text).strip()
