"""Chapter 08's exercises: softened distributions, distillation, sparse storage, TIES, SLERP and the merge table."""

from __future__ import annotations

import copy

from workbook.exercises import Exercise
from workbook.topics.distill import soften
from workbook.topics.merging import slerp, ties_values
from workbook.topics.pruning import magnitude_prune_, storage_bytes


def _csr_bytes_at_90(layer0) -> int:
    pruned = copy.deepcopy(layer0)
    magnitude_prune_(pruned, 0.9)
    return storage_bytes(pruned.weight)["csr"]


def _slerp_lists(a, b, t) -> list[float]:
    import torch

    return slerp(torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64), t).tolist()


def _best_mean_nll(table) -> str:
    return min(table, key=lambda label: (table[label]["upper NLL"] + table[label]["reverse NLL"]) / 2)


EXERCISES = {
    1: Exercise(
        "soften(logits, T) is the softmax of logits / T",
        soften,
        "Divide every logit by T, exponentiate (subtract the largest first, for stability), divide by the sum.",
        tol=1e-9,
        cases=(([4.0, 2.0, 0.0], 1.0), ([4.0, 2.0, 0.0], 4.0), ([1.0, 1.0], 0.5), ([10.0, -3.0, 0.5, 2.0], 2.5)),
    ),
    2: Exercise(
        "the factor by which distillation divided the student's perplexity",
        lambda before, after: before["student perplexity"] / after["student perplexity"],
        "`before` and `after` hold the student's perplexity under the key 'student perplexity'.",
        rtol=0.01,
    ),
    3: Exercise(
        "the CSR bytes of layer 0's up_proj at 90% unstructured sparsity",
        _csr_bytes_at_90,
        "Prune a deepcopy with magnitude_prune_(copy, 0.9), count the non-zeros (nnz): nnz * (2 + 4) + (rows + 1) * 4.",
        rtol=0.01,
    ),
    4: Exercise(
        "ties_merge(values): the elected sign's mean",
        lambda values: ties_values(list(values))["merged_delta"],
        "The sign of the SUM wins (not the count of signs); average only the non-zero entries with that sign.",
        tol=1e-9,
        cases=(((0.30, -0.10),), ((0.30, -0.10, -0.25),), ((-0.2, 0.1, 0.05, -0.05),), ((0.4, 0.0, 0.2),)),
    ),
    5: Exercise(
        "slerp2(a, b, t) interpolates along the arc",
        _slerp_lists,
        "ω = acos(a·b / (|a| |b|)); the weights are sin((1-t)ω)/sin ω and sin(tω)/sin ω, applied to a and b as given.",
        tol=1e-6,
        cases=(([1.0, 0.0], [0.0, 1.0], 0.5), ([1.0, 0.0], [0.0, 1.0], 0.25), ([3.0, 0.0], [1.0, 1.0], 0.3),
               ([1.0, 2.0], [2.0, 4.0], 0.4)),  # fmt: skip
    ),
    6: Exercise(
        "the merge table's row with the lowest mean NLL",
        _best_mean_nll,
        "Average each row's 'upper NLL' and 'reverse NLL' and take the row label with the smallest average.",
    ),
}
