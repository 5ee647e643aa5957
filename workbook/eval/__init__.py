"""Metrics: answer normalisation, ROUGE-L, key facts, refusals and the forgetting guard."""
