"""Reusable helpers for the Post-Training Workbook: one module per concern."""
