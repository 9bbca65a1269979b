"""Plumbing the domains share: after-commit side effects, job enqueueing, mail,
throttling, sealing, password hashing, list filters and pages, database and embedded
Redis set-up. It knows no product rule and imports no domain."""
