"""Background jobs (RQ): the worker's surface. Jobs take ids, never secrets; load state;
are idempotent; and call a domain function. Queue names live in `app.core.jobs`."""
