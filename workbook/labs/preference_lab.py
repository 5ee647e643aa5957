"""Lab 2: align the Lab 1 model on preferences. Candidate pairs from the Lab 1 model, the scripted annotator, a
strict reading of the picks file, the held-out human-labelled pairs, the reward-model record with its baselines,
and the measurements that need the frozen copy of the Lab 1 adapter ("ref") that DPOTrainer makes.

Importing this module imports no torch, transformers or datasets; the functions that need them import them.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from workbook.core.io import DataFileError, read_jsonl
from workbook.eval.metrics import key_fact_recall
from workbook.evidence.results import share_greater, wilson_interval
from workbook.evidence.schema import AUTO_MARKER, PICKS_SOURCE, PREFERENCE_PAIRS
from workbook.labs.data import COMPLIANCE_DIR, load_compliance
from workbook.topics.alignment import _encode, _response_logits, response_features
from workbook.topics.preferences import (
    CHOICES,
    RECORD_KEYS,
    CandidatePair,
    PreferenceSession,
    live_pairs,
    scripted_rule,
)

PAIR_FIELDS = ("id", "prompt", "chosen", "rejected", "flaw", "split")
SCRIPTED_ANNOTATOR = "scripted:more-key-facts"
POLICY, REFERENCE = "default", "ref"  # the adapter DPO trains, and the frozen copy DPOTrainer makes of it


class PicksFileError(ValueError):
    """picks.jsonl is malformed or was edited by hand; the message names the pick. The file is never changed."""


def load_human_pairs(folder: Path = COMPLIANCE_DIR) -> list[dict[str, Any]]:
    """The shipped human-labelled held-out pairs, after checking every registered file of the dataset (this one
    included) against its manifest hash."""
    load_compliance(folder)
    return read_jsonl(folder / PREFERENCE_PAIRS, required=PAIR_FIELDS)


def pair_prompts(train_rows: Sequence[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """n training rows to generate pairs for: the first question of each fact group, taking the topics in turn."""
    by_topic: dict[str, list[dict[str, Any]]] = {}
    seen = set()
    for row in train_rows:
        if row["fact_group"] not in seen:
            seen.add(row["fact_group"])
            by_topic.setdefault(row["topic"], []).append(row)
    queues = list(by_topic.values())
    picked: list[dict[str, Any]] = []
    while len(picked) < n and any(queues):
        picked += [queue.pop(0) for queue in queues if queue][: n - len(picked)]
    return picked


def pair_id(row: dict[str, Any]) -> str:
    """The id of the pair made for a training row: stable, so a reopened picks file finds its pairs again."""
    return f"lab1-{row['id']}"


def candidate_pairs(
    model: Any,
    tokenizer: Any,
    rows: Sequence[dict[str, Any]],
    temperatures: tuple[float, float] = (0.3, 1.3),
    max_new_tokens: int = 48,
    seed: int = 0,
) -> list[CandidatePair]:
    """Two sampled answers of the model to each row's question (`live_pairs`), each pair named by `pair_id` and
    carrying its row's key facts."""
    pairs = live_pairs(model, tokenizer, [r["question"] for r in rows], temperatures, max_new_tokens, seed)
    return [
        dataclasses.replace(
            pair, pair_id=pair_id(row), source=PICKS_SOURCE,
            meta={**pair.meta, "row_id": row["id"], "key_facts": row["key_facts"]},
        )
        for pair, row in zip(pairs, rows, strict=True)
    ]  # fmt: skip


def more_key_facts(pair: CandidatePair) -> str:
    """The lab's scripted annotator: the answer holding more of the row's key facts; when both hold as many,
    chapter 03's `scripted_rule` (fewer repeated words, a tie when close, a skip when an answer is empty)."""
    facts = pair.meta.get("key_facts") or []
    a, b = (key_fact_recall(answer, facts) for answer in (pair.response_a, pair.response_b))
    if facts and a != b:
        return "A" if a > b else "B"
    return scripted_rule(pair)


def annotate(session: PreferenceSession, rule: Callable[[CandidatePair], str], annotator: str) -> list[dict]:
    """Let a scripted annotator judge every pair still open; its records carry `annotator`. Earlier picks stay."""
    own = session.annotator
    session.annotator = annotator
    try:
        return session.run_annotator(rule)
    finally:
        session.annotator = own


def _pick_problem(row: dict[str, Any], judged: set[str]) -> str | None:
    choice, chosen, rejected = row["choice"], row["chosen"], row["rejected"]
    if choice not in CHOICES:
        return f"the choice {choice!r} is not one of {', '.join(CHOICES)}"
    if row["pair_id"] in judged:
        return "this pair was already judged earlier in the file"
    if choice in ("A", "B") and not (isinstance(chosen, str) and isinstance(rejected, str) and chosen.strip()
                                     and rejected.strip() and chosen != rejected):
        return "an A/B pick needs two different, non-empty answers as chosen and rejected"
    if choice in ("tie", "skip") and (chosen or rejected):
        return "a tie or skip keeps chosen and rejected empty"
    if row["source"] != PICKS_SOURCE:
        return f"the source is {row['source']!r}, not {PICKS_SOURCE!r} (the pairs your Lab 1 model generated)"
    if not (isinstance(row["prompt"], str) and row["prompt"].strip()):
        return "the prompt is empty"
    if not (isinstance(row["annotator"], str) and row["annotator"].strip()):
        return "no annotator is named"
    try:
        datetime.fromisoformat(str(row["timestamp"]).replace("Z", "+00:00"))
    except ValueError:
        return f"the timestamp {row['timestamp']!r} is not an ISO 8601 time"
    return None


def check_picks(path: str | Path) -> list[dict[str, Any]]:
    """The picks in a picks.jsonl (none when there is no file yet). A malformed or hand-edited file raises
    PicksFileError naming the pick and what is wrong with it; the file itself is never changed or deleted."""
    path = Path(path)
    if not path.exists():
        return []
    keep = (f" {path} was left exactly as it is: fix that line, or move the file aside (e.g. to picks.bad.jsonl) "
            "and run this cell again to judge the pairs afresh.")
    try:
        rows = read_jsonl(path, required=RECORD_KEYS)
    except DataFileError as error:
        raise PicksFileError(f"{error}{keep}") from None
    judged: set[str] = set()
    for number, row in enumerate(rows, start=1):
        problem = _pick_problem(row, judged)
        if problem:
            raise PicksFileError(f"{path.name}, pick {number} ({row['pair_id']}): {problem}.{keep}")
        judged.add(row["pair_id"])
    return rows


def dpo_dataset(rows: Sequence[dict[str, Any]]) -> Any:
    """A `datasets.Dataset` of conversational prompt/chosen/rejected rows, the format DPOTrainer takes."""
    from datasets import Dataset

    return Dataset.from_list(
        [
            {
                "prompt": [{"role": "user", "content": row["prompt"]}],
                "chosen": [{"role": "assistant", "content": row["chosen"]}],
                "rejected": [{"role": "assistant", "content": row["rejected"]}],
            }
            for row in rows
        ]
    )


def rewards(head: Any, model: Any, tokenizer: Any, prompts: Sequence[str], responses: Sequence[str]) -> list[float]:
    """The reward head's score of each response (on the frozen features `response_features` takes)."""
    import torch

    with torch.no_grad():
        return head(response_features(model, tokenizer, prompts, responses)).squeeze(-1).tolist()


def reward_model_record(
    pairs: Sequence[dict[str, Any]],
    reward_chosen: Sequence[float],
    reward_rejected: Sequence[float],
    logprob_chosen: Sequence[float],
    logprob_rejected: Sequence[float],
    train_pairs: int,
    method: str,
) -> dict[str, Any]:
    """reward_model.json without its note: held-out accuracy on the human pairs with its Wilson interval, and the
    two baselines (longer answer wins, in characters; higher summed log-prob under the SFT model wins)."""
    per_pair = [
        {"id": p["id"], "reward_chosen": rc, "reward_rejected": rr, "base_logprob_chosen": lc,
         "base_logprob_rejected": lr}
        for p, rc, rr, lc, lr in zip(pairs, reward_chosen, reward_rejected, logprob_chosen, logprob_rejected,
                                     strict=True)
    ]  # fmt: skip
    accuracy = share_greater([(r["reward_chosen"], r["reward_rejected"]) for r in per_pair])
    baselines = {
        "longer_wins": share_greater([(len(p["chosen"]), len(p["rejected"])) for p in pairs]),
        "base_logprob": share_greater([(r["base_logprob_chosen"], r["base_logprob_rejected"]) for r in per_pair]),
    }
    return {
        "method": method,
        "train_pairs": train_pairs,
        "heldout": {"n": len(per_pair), "per_pair": per_pair, "accuracy": accuracy,
                    "ci95": wilson_interval(accuracy, len(per_pair))},
        "baselines": baselines,
        "beats_baselines": accuracy > max(baselines.values()),
    }


def prefilled_note(record: dict[str, Any]) -> str:
    """The note the notebook writes until you write your own: the AUTO-DIAGNOSIS line and the measured numbers."""
    held, base = record["heldout"], record["baselines"]
    verdict = "beats both baselines" if record["beats_baselines"] else "does not beat both baselines"
    return (
        f"{AUTO_MARKER}\nThe reward model {verdict}: held-out accuracy {held['accuracy']:.2f} (95% CI "
        f"{held['ci95'][0]:.2f}-{held['ci95'][1]:.2f}, n={held['n']}) against longer-wins {base['longer_wins']:.2f} "
        f"and SFT log-prob {base['base_logprob']:.2f}, after {record['train_pairs']} training picks."
    )


@contextlib.contextmanager
def active_adapter(model: Any, name: str) -> Iterator[Any]:
    """Compute with the PEFT model's adapter `name` (e.g. the frozen reference), then switch back."""
    previous = model.active_adapter
    model.set_adapter(name)
    try:
        yield model
    finally:
        model.set_adapter(previous)


def adapter_gap(model: Any, first: str = POLICY, second: str = REFERENCE) -> float:
    """The largest absolute difference between the weights of two adapters of the same shape (0.0: identical)."""
    params = dict(model.named_parameters())
    gaps = [
        (param.float() - params[name.replace(f".{first}.", f".{second}.")].float()).abs().max().item()
        for name, param in params.items()
        if f".{first}." in name
    ]
    if not gaps:
        raise ValueError(f"The model has no adapter named {first!r}: adapters are {list(model.peft_config)}.")
    return max(gaps)


def copy_adapter(model: Any, source: str = REFERENCE, target: str = POLICY) -> None:
    """Copy adapter `source`'s weights into adapter `target` (each keeps its own dtype)."""
    import torch

    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, param in params.items():
            if f".{target}." in name:
                param.copy_(params[name.replace(f".{target}.", f".{source}.")])


def kl_to_reference(
    model: Any, tokenizer: Any, prompts: Sequence[str], responses: Sequence[str], reference: str = REFERENCE
) -> float:
    """Exact KL(policy || reference) of the next-token distributions, averaged over the response tokens
    (teacher-forced): `alignment.mean_token_kl`, with the frozen reference adapter in place of the bare base."""
    import torch

    model.eval()
    total, count = 0.0, 0
    for prompt, response in zip(prompts, responses, strict=True):
        ids, start = _encode(tokenizer, prompt, response)
        policy_logits, _ = _response_logits(model, ids, start)
        with active_adapter(model, reference):
            reference_logits, _ = _response_logits(model, ids, start)
        log_p, log_q = torch.log_softmax(policy_logits, -1), torch.log_softmax(reference_logits, -1)
        total += (log_p.exp() * (log_p - log_q)).sum().item()
        count += policy_logits.shape[0]
    return total / count
