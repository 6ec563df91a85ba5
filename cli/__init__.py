"""The ``oversight`` command line."""
