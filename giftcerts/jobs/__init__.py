"""Background work: a transactional outbox (`outbox`) and the worker that drains it (`worker`)."""
