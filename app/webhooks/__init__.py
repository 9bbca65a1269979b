"""Webhooks (SPEC §5): an organization's events POSTed, signed, to the endpoints it chose.

- `catalog`: which audit actions are published, and endpoint filters;
- `outbox`: the audit log's record handler, writing one delivery row per interested
  endpoint in the transaction of the change;
- `delivery`: the worker's side (lease, in-order attempts, backoff, disabling, the sweep);
- `endpoints`: what people with `webhooks.manage` do and read;
- `signing` (secrets, signatures, redacted URLs) and `notices` (the e-mail to owners).

`app.create_app` imports `outbox`, which registers the handler.
"""
