"""Operator and developer tools: the local stack launcher, the trace printer."""
