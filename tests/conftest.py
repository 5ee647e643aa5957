"""Shared test setup: FAST mode for everything the tests run, the offline model once per session, and one tiny
random Llama (with the course tokenizer) for every unit test that needs a model but not its knowledge.

The course package is installed (`make setup`), so nothing here touches sys.path.
"""

import os

import pytest

os.environ.setdefault("WORKBOOK_FAST", "1")
if os.environ.get("PYTEST_XDIST_WORKER"):  # `make test` runs two workers on two cores: one thread each, kernels too
    os.environ.setdefault("OMP_NUM_THREADS", "1")


# The notebook tests, longest first (their `--durations` in a two-worker `make test`, 2026-12-01).
# `--maxschedchunk 1` hands each worker two tests to start with, so each pair starts with a long one.
SLOWEST_FIRST = ["03", "00", "labs", "01", "08", "09", "07", "02", "10", "05", "04", "06"]


def _rank(item) -> tuple[int, int]:
    if item.get_closest_marker("notebook") is None:
        return (1, 0)
    key = "labs" if item.name == "test_labs_run_in_order" else item.name[-3:-1]
    return (0, SLOWEST_FIRST.index(key) if key in SLOWEST_FIRST else len(SLOWEST_FIRST))


def pytest_collection_modifyitems(items):
    """Notebook tests first, longest first: xdist hands tests out in this order as workers free up, so the two
    workers share the minutes-long tests and the short ones fill the gaps, instead of one worker ending on a queue."""
    items.sort(key=_rank)


@pytest.fixture(scope="session")
def offline_model():
    """The offline SmolLM2-135M-Instruct and its tokenizer, loaded once per test session (fp32, CPU)."""
    from workbook.core.models import load_model

    return load_model()


@pytest.fixture(scope="session")
def course_tokenizer():
    """The offline model's tokenizer (chat template, <|im_end|> as EOS and pad)."""
    from transformers import AutoTokenizer

    from workbook.core.models import offline_checkpoint

    return AutoTokenizer.from_pretrained(offline_checkpoint())


@pytest.fixture
def tiny_llama(course_tokenizer):
    """A fresh, seeded 2-layer random Llama over the course tokenizer's vocabulary: (model, tokenizer).

    Function-scoped so that a test may train or wrap it (PEFT) without touching the next test's copy.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=len(course_tokenizer),
        pad_token_id=course_tokenizer.pad_token_id,
        eos_token_id=course_tokenizer.eos_token_id,
    )
    return LlamaForCausalLM(config).eval(), course_tokenizer
