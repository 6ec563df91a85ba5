"""Periodic oversight reports (weekly to annual): built once as data, rendered as JSON, HTML and XLSX."""
