"""Replay: recorded calls played again against a flow version, turn by turn, and compared."""
