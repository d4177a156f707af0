"""Background jobs (RQ): rebuild the report rollups, then queue the next run."""

from __future__ import annotations

from datetime import timedelta


def refresh_reports_job(reschedule: bool = True) -> str:
    """Rebuild every rollup in its own app context and transaction."""
    from app import create_app
    from app.extensions import db
    from app.reports.rollups import refresh

    app = create_app()
    with app.app_context():
        try:
            record = refresh(db.session)
            db.session.commit()
            seconds = record.seconds
        finally:
            db.remove()
        if reschedule and app.config["REDIS_URL"]:
            enqueue_refresh(app.config["REDIS_URL"], app.config["REPORT_REFRESH_MINUTES"])
    return f"report rollups rebuilt in {seconds:.1f} s"


def enqueue_refresh(redis_url: str, in_minutes: int = 0) -> None:
    from redis import Redis
    from rq import Queue

    queue = Queue("shanlian", connection=Redis.from_url(redis_url))
    if in_minutes:
        queue.enqueue_in(timedelta(minutes=in_minutes), refresh_reports_job)
    else:
        queue.enqueue(refresh_reports_job)
