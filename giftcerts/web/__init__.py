"""What the dashboard (giftcerts.ui) and the HTTP endpoints (giftcerts.api) share, so that
neither imports the other: the URLs, the staff session cookies, the code-guessing budgets and
the framing policy."""
