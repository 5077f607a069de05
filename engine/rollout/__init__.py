"""Rollouts: a candidate flow version answering a share of a flow's calls (dialplan.yaml)."""
