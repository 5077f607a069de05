"""Insights from the call log: flow versions side by side, and where in a flow callers drop."""
