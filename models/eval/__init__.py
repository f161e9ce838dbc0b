"""Evaluation: the benchmark set, the metrics of domain.md and the baselines (`make eval`)."""
