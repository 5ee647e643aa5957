"""The Lab 1 evidence packet: how its files are written, and the validator that checks it against the gate.

The packet lives in `labs/evidence/` (beside the notebook) and holds the files in `schema.PACKET_FILES`:
environment.json, data_card.md, data_card.json, baseline.jsonl, training_log.jsonl, loss_curve.png,
eval_results.json, failure_analysis.md, rollback.md, manifest.json.

- `schema`: the files, gates and required keys; `GateResult`.
- `results`: scored answers and what goes into eval_results.json.
- `writers`: the loss curve, failure analysis, rollback note and manifest the notebook writes.
- `packet`: reading a packet (the loader and parsers the gates share with the writers).
- `untrusted`: bounded reading of files a student sent (plain files only, size and depth caps, PNG text by Pillow).
- `gates`: the seven checks, `check_gate` and `validate_packet` (never raise on a bad packet).
- `report`: `format_report`. `python -m workbook.evidence labs/evidence` prints it.
"""
