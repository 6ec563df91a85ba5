"""Identity, scope, masking, audit and limits."""
