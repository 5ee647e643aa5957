"""Chapter 09's answer key: computed by the library on the shipped data, and the worked solutions pass it."""

import pytest

from workbook.core.config import DATA_DIR
from workbook.core.io import read_jsonl
from workbook.exercises import ChapterExercises, is_correct
from workbook.exercises.ch09 import EXERCISES
from workbook.topics.curation import Curator
from workbook.topics.raft import build_raft_examples
from workbook.topics.text import normalize


@pytest.fixture(scope="module")
def curation():
    noisy = read_jsonl(DATA_DIR / "curation" / "noisy_instructions.jsonl")
    test = read_jsonl(DATA_DIR / "curation" / "test.jsonl")
    return noisy, test, Curator().curate(noisy, test).kept


def test_curation_answers_follow_the_curator(curation):
    noisy, test, cleaned = curation
    assert EXERCISES[1].expected(noisy, test) < len(cleaned)  # a stricter length filter keeps fewer rows
    closest = EXERCISES[2].expected(cleaned, test)
    assert 0 < closest < Curator().leak_threshold  # decontaminated: below the leakage threshold, yet not zero


def fact_recall(prediction, key_facts):  # the worked solution in the chapter
    text = f" {normalize(prediction)} "
    facts = [f for f in key_facts if normalize(f.replace("|", " "))]
    if not facts:
        return 1.0
    return sum(any(o and f" {o} " in text for o in map(normalize, f.split("|"))) for f in facts) / len(facts)


def test_function_exercises_accept_the_solutions_and_reject_near_misses(capsys):
    ex = ChapterExercises("09", EXERCISES, {})
    assert ex.check(3, fact_recall)
    assert not ex.check(3, lambda p, facts: float(all(f in p for f in facts)))  # substring match: "172 hours"
    assert ex.check(4, lambda tb, ta, gb, ga: ta > tb and ga - gb >= -3)
    assert not ex.check(4, lambda tb, ta, gb, ga: ta > tb and ga - gb > -3)  # a drop of exactly 3 still ships
    assert "Hint:" in capsys.readouterr().out


def test_raft_token_count_and_general_recall(course_tokenizer):
    corpus = read_jsonl(DATA_DIR / "raft" / "corpus.jsonl")
    questions = [q for q in read_jsonl(DATA_DIR / "raft" / "questions.jsonl") if q["split"] == "train"]
    rows = build_raft_examples(questions, corpus, 2, 0.8, seed=0)
    longest = EXERCISES[5].expected(rows, course_tokenizer)
    assert 50 < longest < 384  # documents + question + target, inside the chapter's RAFT max_length
    answers = [{"answer": "Paris is the capital.", "key_facts": ["Paris"]},
               {"answer": "No idea.", "key_facts": ["144"]}]
    assert is_correct(0.5, EXERCISES[6].expected({"general answers": answers}), EXERCISES[6].tol)
