"""Routes, one module per bounded context."""
