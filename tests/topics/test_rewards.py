"""The verifiable rewards of chapter 10's sums task."""

import pytest

from workbook.topics.rewards import (
    accuracy,
    addition_rows,
    correctness_reward,
    final_answer,
    format_reward,
    numbers_written,
    shows_working_reward,
    well_formatted,
)


def test_final_answer_is_the_last_number():
    assert final_answer("7 + 5 = 12") == 12
    assert final_answer("The answer is -3.") == -3
    assert final_answer("no number") is None


def test_rewards_accept_strings_and_messages():
    messages = [{"role": "assistant", "content": "3 + 4 = 7"}]
    assert correctness_reward([], [messages, "3 + 4 = 8", "seven"], [7, 7, 7]) == [1.0, 0.0, 0.0]
    assert format_reward(
        [], [messages, "The sum is 7, as you can see from adding them up carefully one by one", "7."]
    ) == [
        0.5,
        0.0,
        0.5,
    ]
    assert well_formatted("7 + 5 = 12.") and not well_formatted("12 is the answer")


def test_shows_working_checker_has_a_loophole():
    replies = ["7 + 5 = 13", "7+5=12 so", "The answer is 12.", "7 + 5 equals 12"]
    assert shows_working_reward([], replies) == [1.0, 1.0, 0.0, 0.0]
    assert correctness_reward([], ["7 + 5 = 13"], [12]) == [0.0]
    assert numbers_written("1, 22 and 333") == 3


def test_accuracy():
    assert accuracy(["1 + 2 = 3", "3 is wrong: 4"], [3, 3]) == 0.5
    with pytest.raises(ValueError):
        accuracy([], [])


def test_addition_rows_are_disjoint_and_deterministic():
    held = addition_rows(10, seed=1)
    train = addition_rows(20, seed=2, exclude=[r["prompt"][0]["content"] for r in held])
    assert addition_rows(10, seed=1) == held
    assert not {r["prompt"][0]["content"] for r in held} & {r["prompt"][0]["content"] for r in train}
    assert all(2 <= r["target"] <= 18 for r in train)
