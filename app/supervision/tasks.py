"""Background jobs (RQ). Called with ids or nothing, never ORM objects."""

from __future__ import annotations

from datetime import timedelta


def sweep_job(reschedule: bool = True) -> str:
    """Run the sweep in its own app context and transaction, then queue the next run."""
    from app import create_app
    from app.extensions import db
    from app.supervision.sweep import sweep

    app = create_app()
    with app.app_context():
        try:
            report = sweep(db.session)
            db.session.commit()
        finally:
            db.remove()
        if reschedule and app.config["REDIS_URL"]:
            enqueue_sweep(app.config["REDIS_URL"], app.config["SWEEP_INTERVAL_MINUTES"])
    return str(report)


def enqueue_sweep(redis_url: str, in_minutes: int = 0) -> None:
    from redis import Redis
    from rq import Queue

    queue = Queue("shanlian", connection=Redis.from_url(redis_url))
    if in_minutes:
        queue.enqueue_in(timedelta(minutes=in_minutes), sweep_job)
    else:
        queue.enqueue(sweep_job)
