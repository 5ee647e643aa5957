"""Lab plumbing: dataset fingerprints, run naming, resume and the adapter registry."""
