"""Email: actions (per-workspace automation rules), their templates, and the SMTP sender."""
