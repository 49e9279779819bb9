"""Celery task names: the only thing the web tier knows about the worker. Never rename one: queued jobs carry it."""

ANALYZE = "deepfake.analyze"  # args: [analysis_id]
ANALYZE_CHUNK = "deepfake.analyze_chunk"  # args: [[analysis_id, ...]] run through the model as one batch
# args: [kind ("batch" | "analysis"), id]; no longer sent (webhooks go through the outbox, shared/outbox.py),
# still consumed so jobs queued before that change are moved into the outbox
DELIVER_WEBHOOK = "deepfake.deliver_webhook"
MAKE_MAPS = "deepfake.make_maps"  # args: [analysis_id]; the thumbnail and forensic maps of a finished analysis


def queue_for(name: str, settings) -> str:  # noqa: ANN001 - shared.settings.Settings
    """The queue a task is sent to: a person's upload first, batch chunks next, maps last (settings.queues)."""
    return {ANALYZE_CHUNK: settings.bulk_queue, MAKE_MAPS: settings.maps_queue}.get(name, settings.queue)
