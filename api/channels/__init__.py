"""Inbound callbacks from the feedback loop's channels."""
