"""Background jobs (RQ). Jobs take ids, never secrets; load state; are idempotent;
and call a service. Queue names are constants."""

QUEUE_DEFAULT = "default"
QUEUE_SIGNING = "signing"
QUEUE_MAINTENANCE = "maintenance"

# Order matters: a worker serves the first non-empty queue first.
ALL_QUEUES = (QUEUE_SIGNING, QUEUE_DEFAULT, QUEUE_MAINTENANCE)
