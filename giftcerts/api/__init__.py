"""HTTP routes served beside the Reflex pages: the JSON API under /api/v1 (and, later, webhooks)."""
