"""The audit log: hash-chained events per organization (`chain`), reading and exporting
them (`viewer`), and retention (`retention`).

`record` and the chain checks are the domain's entry points, used by every other domain;
they are re-exported here so a change reads `audit.record(...)` wherever it is made.
"""

from app.audit.chain import AuditLogImmutable, record, verify_all, verify_chain

__all__ = ["AuditLogImmutable", "record", "verify_all", "verify_chain"]
