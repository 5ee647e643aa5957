"""Chapter 01's exercises: next-token loss, frozen features vs fine-tuning, and the cost ladder."""

from __future__ import annotations

from workbook.exercises import Exercise
from workbook.topics.ladder import advise, gpu_hours, training_flops_per_token
from workbook.topics.lm import perplexity


def _finetune_to_probe_ratio(ft_model, probe_params, train) -> float:
    classes = len({row["label"] for row in train})
    head = (ft_model.config.hidden_size + 1) * classes
    return (sum(p.numel() for p in ft_model.parameters()) + head) / probe_params


def _flops(n_frozen: float, n_trained: float) -> float:
    if n_frozen == 0:  # full fine-tuning: every weight trains
        return training_flops_per_token(n_trained)
    return training_flops_per_token(n_frozen, trainable_params=n_trained)


EXERCISES = {
    1: Exercise(
        "the index of the most surprising prediction in section 1's sentence",
        lambda token_nll: int(token_nll.argmax()),
        "The largest -log p is the biggest surprise: `token_nll.argmax()`, as an int.",
    ),
    2: Exercise(
        "the perplexity of the scrambled sentence",
        lambda model, tok, scrambled: perplexity(model, tok, [scrambled]),
        "Perplexity is e to the mean next-token loss: `perplexity(model, tok, [scrambled])`.",
        rtol=1e-3,
    ),
    3: Exercise(
        "how many times more numbers the fine-tune trained than the probe",
        _finetune_to_probe_ratio,
        "Every weight of `ft_model` (`ft_model.num_parameters()`) plus the head: (hidden_size + 1) x number of "
        "classes; divide by `probe_params`.",
        rtol=0.01,
    ),
    4: Exercise(
        "training FLOPs per token with frozen and trained weights",
        _flops,
        "Forward: 2 per weight. Backward: 2 per weight for the input gradient, frozen or not, and 2 more per trained "
        "weight for its weight gradient.",
        rtol=1e-9,
        cases=((0, 7e9), (7e9, 40e6), (134_515_008, 4_884_480), (1.7e9, 1e6)),
    ),
    5: Exercise(
        "A100-hours to pretrain the loaded model on 2T tokens by 6·N·D",
        lambda model: gpu_hours(sum(p.numel() for p in model.parameters()), 2e12),
        "6 x parameters x tokens FLOPs, divided by (312e12 x 0.4) FLOP/s, divided by 3600: `gpu_hours(N, 2e12)`.",
        rtol=0.01,
    ),
    6: Exercise(
        "the rung for a bot that quotes last year's refund policy",
        lambda: advise("Our bot quotes last year's refund policy").rung,
        "A policy that changes is a fact the model cannot know: which rung puts current documents in the context?",
    ),
}
