"""Running giftcerts in production: readiness, metrics, structured logs, the invariant check."""
