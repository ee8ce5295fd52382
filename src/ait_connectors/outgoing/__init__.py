"""Outgoing webhooks: events this deployment sends to applications' endpoints.

Not the providers' incoming webhooks. An event is written to an outbox table in the transaction
of the change it reports (:mod:`.events`: the token store's connection changes, the sync
engine's run end), so it is never lost; the job queue (PostgreSQL: ``ait_connectors.jobs``) or
the in-process :mod:`.dispatcher` (embedded SQLite, ``AIT_JOBS=inline``) delivers it at least
once, signed per the Standard Webhooks specification (:mod:`.signing`), to targets checked
against private addresses at registration and at each attempt (:mod:`.targets`), retried with
exponential backoff for at least a day (:mod:`.schedule`), every attempt logged
(:mod:`.delivery`). Endpoints, the delivery log and replay: :mod:`.endpoints`.

Kept free of imports here: the token store and the sync engine import :mod:`.events`.
"""
