"""Certificate PDFs: rendered with WeasyPrint from an autoescaped Jinja2 template, stored in
the database, and served by an unguessable link."""
