"""The staff dashboard: one module per page, its State beside its views."""
