"""Sources in (feed batches, later source systems) and channels out."""
