"""The ingestion core: every source lands through it (one write path into the warehouse)."""
