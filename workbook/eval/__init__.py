"""Metrics: ROUGE-L, key facts, refusals and the forgetting guard, on text normalised by workbook.topics.text."""
