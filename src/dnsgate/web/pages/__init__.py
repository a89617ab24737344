"""The UI's routes, one module per area."""
