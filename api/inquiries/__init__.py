"""Inquiries (询问函): an oversight body's question about one object, answered by the finance bureau of the
object's region within a deadline in working days, accepted or returned by the asker."""
