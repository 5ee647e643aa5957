"""The one text normaliser, and the "4.5" decision: numbers stay whole for the metrics and for curation alike."""

import pytest

from workbook.eval.metrics import fact_present, tokens
from workbook.topics.curation import Curator, shingles
from workbook.topics.text import normalize


def test_normalize_strips_case_accents_and_punctuation_but_keeps_numbers():
    assert normalize("GDPR's Art. 33: within 72 HOURS!") == "gdprs art 33 within 72 hours"
    assert normalize("Fines up to 4.5% or €20,000,000.") == "fines up to 4.5 or 20,000,000"
    assert normalize("Données   personnelles") == "donnees personnelles"
    assert normalize("Héllo, World!") == "hello world"
    assert normalize("Ends in 4. Next") == "ends in 4 next"  # a full stop after a number is punctuation
    with pytest.raises(TypeError):
        normalize(None)  # type: ignore[arg-type]


def test_a_decimal_is_one_token_for_the_metric():
    assert tokens("Fines up to 4.5%.") == ["fines", "up", "to", "4.5"]
    assert fact_present("Fines up to 4.5% of turnover.", "4.5%")
    assert not fact_present("Fines up to 4.5% of turnover.", "5%")  # "4.5" must not read as "4 5"


def test_curation_keys_keep_decimals_whole():
    assert shingles("costs 4.5 euros") == {"costs 4.5 euros"}
    rows = [
        {"id": "a", "instruction": "What is the fee?", "response": "The fee is 4.5 euros per month."},
        {"id": "b", "instruction": "What is the fee?", "response": "The fee is 4 5 euros per month."},
    ]
    step = Curator().exact_dedup(rows)
    assert [r["id"] for r in step.kept] == ["a", "b"]  # 4.5 and "4 5" are different texts
