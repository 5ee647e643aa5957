import pytest

from workbook.ui.selfcheck import check, is_correct


def test_numbers_with_and_without_tolerance(capsys):
    assert check("Q1", 112.4, 112, "16 B x 7e9", tol=1)
    assert "[correct] Q1" in capsys.readouterr().out
    assert not check("Q1", 96, 112, "16 B x 7e9", tol=1)
    out = capsys.readouterr().out
    assert "[incorrect] Q1" in out and "112" in out and "Why: 16 B x 7e9" in out
    assert is_correct(3, 3.0) and not is_correct(3.1, 3)


def test_strings_ignore_case_and_spaces():
    assert is_correct("  rag ", "RAG")
    assert is_correct("LoRA  fine-tune", "lora fine-tune")
    assert not is_correct("B", "A")
    assert not is_correct(1, "1")


def test_other_types_and_bools():
    assert is_correct({"a", "b"}, {"b", "a"})
    assert not is_correct(True, 1)  # a bool is not a number answer


def test_unanswered_reveals_nothing(capsys):
    assert not check("Q2", None, "RAG", "secret reason")
    assert not check("Q2", ..., "RAG", "secret reason")
    out = capsys.readouterr().out
    assert "not answered" in out and "secret" not in out and "RAG" not in out


@pytest.mark.parametrize("tol", [-1, float("nan"), "1"])
def test_bad_tolerance(tol):
    with pytest.raises(ValueError, match="tol"):
        check("Q", 1, 1, tol=tol)


def test_tolerance_needs_numeric_expected():
    with pytest.raises(ValueError, match="numeric"):
        check("Q", "a", "a", tol=0.1)


def test_label_required():
    with pytest.raises(ValueError, match="label"):
        check("", 1, 1)
