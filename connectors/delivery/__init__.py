"""Delivery of the feedback loop's events: the transactional outbox, its dispatcher and the dead letters."""
