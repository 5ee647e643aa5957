import pytest

from workbook.core.config import DATA_DIR
from workbook.core.io import read_jsonl
from workbook.topics.curation import Curator, EmptyDatasetError, jaccard, shingles
from workbook.topics.raft import NO_ORACLE, build_plain_examples, build_raft_examples, cites_oracle
from workbook.topics.tasks import exact_match, make_task_rows


def row(rid, instruction, response):
    return {"id": rid, "instruction": instruction, "response": response}


GOOD = "Keep it in a cool, dark and dry place."


def test_each_step_removes_what_it_should():
    rows = [
        row("a", "How do I store potatoes?", GOOD),
        row("b", "how do I store potatoes", GOOD.upper()),  # exact after normalising
        row("c", "How do I store potatoes?", GOOD + " Always."),  # near duplicate
        row("d", "What is X?", "A loan."),  # too short
        row("e", "Tell me", "<b>bold</b> answer with markup here"),
        row("f", "", "An answer without a question here."),
        row("g", "What is a budget?", "A plan for how you will spend and save your income."),
    ]
    test = [row("t", "What is a budget?", "A plan for how you will spend and save your income.")]
    report = Curator().curate(rows, test)
    removed = {rid: step for step, rid, _ in report.removed()}
    assert removed == {"b": "exact duplicates", "c": "near duplicates", "d": "length filter",
                       "e": "format filter", "f": "format filter", "g": "test leakage"}
    assert [r["id"] for r in report.kept] == ["a"]
    assert "remaining" in report.table()


def test_shipped_noisy_set():
    noisy = read_jsonl(DATA_DIR / "curation" / "noisy_instructions.jsonl")
    test = read_jsonl(DATA_DIR / "curation" / "test.jsonl")
    report = Curator().curate(noisy, test)
    assert report.start_count == 53 and len(report.kept) == 32
    leaked = {why.split("test row ")[1] for _, _, why in report.removed() if "test row" in why}
    assert leaked == {"t02", "t03", "t04", "t06"}


def test_empty_after_filtering_is_a_clear_error():
    with pytest.raises(EmptyDatasetError, match="length filter.*loosen"):
        Curator(min_response_words=50, max_response_words=60).curate([row("a", "Q?", GOOD)])
    with pytest.raises(EmptyDatasetError, match="empty before"):
        Curator().curate([])
    with pytest.raises(EmptyDatasetError, match="field names"):
        Curator(response_key="output").curate([row("a", "Q?", GOOD)])


def test_bad_settings():
    with pytest.raises(ValueError):
        Curator(near_threshold=0)
    with pytest.raises(ValueError):
        Curator(min_response_words=10, max_response_words=5)


def test_similarity_helpers():
    assert jaccard(shingles("a b c d"), shingles("a b c e")) == pytest.approx(1 / 3)
    assert jaccard(set(), set()) == 0.0


CORPUS = [{"id": f"d{i}", "title": f"T{i}", "text": f"Text {i}."} for i in range(6)]
QUESTIONS = [{"id": f"q{i}", "question": f"Q{i}?", "answer": f"A{i}.", "oracle_doc": f"d{i}", "quote": f"Text {i}"}
             for i in range(5)]


def test_raft_examples():
    rows = build_raft_examples(QUESTIONS, CORPUS, distractors=2, oracle_share=0.6, seed=0)
    assert sum(not r["with_oracle"] for r in rows) == 2
    for q, r in zip(QUESTIONS, rows, strict=True):
        prompt, target = r["prompt"][0]["content"], r["completion"][0]["content"]
        assert prompt.count("\n[d") == 3  # always 3 documents
        if r["with_oracle"]:
            assert f"[{q['oracle_doc']}]" in prompt and target.startswith(f"Quote [{q['oracle_doc']}]")
            assert cites_oracle(target, q)
        else:
            assert f"[{q['oracle_doc']}]" not in prompt and target.startswith(NO_ORACLE)
    assert build_raft_examples(QUESTIONS, CORPUS, seed=1) != build_raft_examples(QUESTIONS, CORPUS, seed=2)
    assert build_plain_examples(QUESTIONS)[0]["completion"][0]["content"] == "A0."


def test_raft_bad_inputs():
    with pytest.raises(ValueError, match="not in the corpus"):
        build_raft_examples([{**QUESTIONS[0], "oracle_doc": "zz"}], CORPUS)
    with pytest.raises(ValueError, match="only 5"):
        build_raft_examples(QUESTIONS, CORPUS, distractors=6)
    with pytest.raises(ValueError):
        build_raft_examples([], CORPUS)
    with pytest.raises(ValueError):
        build_raft_examples(QUESTIONS, CORPUS, oracle_share=2)


def test_shipped_raft_data_quotes_are_verbatim():
    corpus = {d["id"]: d["text"] for d in read_jsonl(DATA_DIR / "raft" / "corpus.jsonl")}
    for q in read_jsonl(DATA_DIR / "raft" / "questions.jsonl"):
        assert q["quote"] in corpus[q["oracle_doc"]]


def test_synthetic_tasks():
    rows = make_task_rows("upper", 3, seed=0)
    assert rows[0]["completion"][0]["content"].isupper()
    assert exact_match(rows[0]["completion"][0]["content"] + ".", rows[0])
    reverse = make_task_rows("reverse", 1, seed=0)[0]
    words = reverse["prompt"][0]["content"].split(": ")[1].split()
    assert reverse["completion"][0]["content"] == " ".join(reversed(words))
    with pytest.raises(ValueError):
        make_task_rows("sing", 1, 0)
