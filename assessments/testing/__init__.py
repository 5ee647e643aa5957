"""Synthetic submissions for the assessment tests and the benchmark: `simulate` (Lab 1 evidence packets, honest
and damaged) and `fixtures` (quiz submissions, hostile code, scratch courses, upload zips)."""
