"""Chapter 07's exercises: checkpoint rotation, what a checkpoint folder holds, and adapter sizes."""

from __future__ import annotations

from workbook.exercises import Exercise
from workbook.topics.checkpoints import list_checkpoint, surviving_checkpoints


def _pickles(last) -> list[str]:
    return sorted(entry.name for entry in list_checkpoint(last) if entry.kind.startswith("pickle"))


def _base_over_adapter(multi, adapter_root) -> float:
    from safetensors.torch import load_file

    adapter = sum(t.numel() for t in load_file(adapter_root / "pirate" / "adapter_model.safetensors").values())
    return sum(p.numel() for name, p in multi.named_parameters() if "lora_" not in name) / adapter


EXERCISES = {
    1: Exercise(
        "kept(max_steps, save_steps, save_total_limit) lists the checkpoints a run leaves on disk",
        lambda max_steps, save_steps, limit: surviving_checkpoints(max_steps, save_steps, limit),
        "A checkpoint is written every save_steps steps and once more at max_steps if that is not a multiple; "
        "then only the newest save_total_limit folders are kept.",
        cases=((1000, 100, 3), (10, 3, 2), (7, 2, 1), (6, 2, 5), (5, 5, 2)),
    ),
    2: Exercise(
        "the pickle files of a LoRA checkpoint folder",
        _pickles,
        "torch.save writes pickles: look for the .pt, .pth and .bin files in `last` (list_checkpoint says which).",
    ),
    3: Exercise(
        "the trainable numbers of LoRA r = 16 on q, k, v, o",
        lambda comparison: comparison["LoRA r=8"]["trainable"] * 2,
        "Each adapted d_in x d_out projection trains r * (d_in + d_out) numbers: how does that scale with r?",
    ),
    4: Exercise(
        "IA3's trainable numbers in one decoder layer",
        lambda comparison, multi: comparison["IA3"]["trainable"] // multi.get_base_model().config.num_hidden_layers,
        "IA3 scales the outputs of k_proj and v_proj (num_key_value_heads * head_dim each, with grouped-query "
        "attention) and the input of down_proj (intermediate_size).",
    ),
    5: Exercise(
        "how many times more parameters the base has than one adapter",
        _base_over_adapter,
        "Count the numbers in the pirate adapter's safetensors file, and the base's parameters without any 'lora_' "
        "weights; divide.",
        rtol=0.01,
    ),
}
