"""Background work: the worker (`worker`) that drains the transactional outbox
(giftcerts.core.outbox) and what each job kind does (`handlers`)."""
