"""Lab plumbing: dataset fingerprints, run naming and resume, where runs and the packet are kept (Drive in Colab),
the adapter registry, what actually ran (provenance) and the guards against a numerically broken run (health)."""
