"""Alert state in the store: fire, stay quiet while firing, resolve; and webhook delivery.

For each evaluated :class:`~reviewer.alerts.rules.Check`:

* firing, and no open alert on its key: a new ``alert`` row (``status="firing"``) — unless
  the key resolved less than ``cooldown`` ago (flapping is not news);
* firing, and an alert on its key is open: nothing new (it does not fire again until it
  has resolved);
* not firing, and an alert on its key is open: that alert is resolved;
* unknown (too few samples): nothing changes.

Delivery is separate from firing: a new alert is ``pending`` until the webhook took it
(``delivered``); a webhook that fails is retried with backoff within the call, and again
on the next evaluation until ``max_attempts`` in all (then ``failed``). Without a webhook
the status is ``disabled``. The payload is Slack-compatible (``text`` plus ``blocks``),
with the alert's fields under ``tastevin`` for other receivers.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from ..store import Alert, utc_now
from .rules import Check
from .table import alert_link

__all__ = ["Applied", "apply_checks", "deliver_pending", "payload"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Applied:
    """What one evaluation changed: alerts fired, still firing (open before), resolved."""

    fired: list[Alert]
    still_firing: list[Alert]
    resolved: list[Alert]


def apply_checks(engine: Engine, checks: Sequence[Check], *, cooldown: timedelta, webhook: bool) -> Applied:
    """Record the checks' outcome in the ``alert`` table (one transaction). See the module docstring."""
    fired: list[Alert] = []
    still: list[Alert] = []
    resolved: list[Alert] = []
    now = utc_now()
    with Session(engine, expire_on_commit=False) as session:
        open_alerts = {a.key: a for a in session.exec(select(Alert).where(Alert.status == "firing"))}
        for check in checks:
            current = open_alerts.get(check.key)
            if check.firing is True:
                if current is not None:
                    still.append(current)
                    continue
                last = session.exec(
                    select(Alert).where(Alert.key == check.key).order_by(col(Alert.fired_at).desc()).limit(1)
                ).first()
                if last is not None and last.resolved_at is not None and now - last.resolved_at < cooldown:
                    logger.info("alert %s is cooling down (resolved %s)", check.key, last.resolved_at)
                    continue
                alert = Alert(
                    kind=check.kind, key=check.key, status="firing", fired_at=now, observed=check.observed,
                    expected=check.expected, statistic=check.statistic, p_value=check.p_value,
                    message=check.message, delivery_status="pending" if webhook else "disabled",
                )
                session.add(alert)
                fired.append(alert)
            elif check.firing is False and current is not None:
                current.status = "resolved"
                current.resolved_at = now
                session.add(current)
                resolved.append(current)
        session.commit()
    return Applied(fired, still, resolved)


def payload(alert: Alert, *, app_url: str | None = None) -> dict[str, Any]:
    """The webhook body: Slack-compatible ``text``/``blocks`` and the fields under ``tastevin``.

    With ``app_url`` (the review app's base URL) the text ends with a link to the app's
    page for the alert, on the windows it compared; ``tastevin.link`` holds it (else None).
    """
    title = {"score_drop": "Score drop", "drift": "Drift", "volume": "Volume",
             "judge_health": "Judge health"}.get(alert.kind, alert.kind)
    text = f":rotating_light: Tastevin — {title}: {alert.message}"
    link = alert_link(app_url, alert.kind, alert.statistic)
    if link is not None:
        text += f" <{link}|Open in the review app>"
    return {
        "text": text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
        "tastevin": {
            "id": alert.id, "kind": alert.kind, "key": alert.key, "status": alert.status,
            "fired_at": alert.fired_at.isoformat(), "observed": alert.observed, "expected": alert.expected,
            "p_value": alert.p_value, "statistic": alert.statistic, "message": alert.message, "link": link,
        },
    }


def _post(url: str, body: dict[str, Any], timeout_s: float) -> None:
    data = json.dumps(body, default=str).encode()
    request = urllib.request.Request(url, data=data, method="POST",
                                     headers={"content-type": "application/json", "user-agent": "tastevin-alert"})
    with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 - the URL is the user's webhook
        response.read()


def deliver_pending(
    engine: Engine,
    webhook_url: str,
    *,
    attempts_per_call: int = 3,
    max_attempts: int = 10,
    backoff_s: float = 0.5,
    timeout_s: float = 10.0,
    app_url: str | None = None,
) -> list[Alert]:
    """Post every pending (or failed, with attempts left) alert; returns those delivered.

    Blocks up to ``attempts_per_call`` tries per alert with exponential backoff. A 2xx
    answer is delivered; anything else (status, timeout, refused connection) is recorded
    in ``last_delivery_error`` — without the URL, which may hold a secret token. With
    ``app_url`` each body links to the review app (:func:`payload`).
    """
    with Session(engine, expire_on_commit=False) as session:
        waiting = list(session.exec(
            select(Alert).where(col(Alert.delivery_status).in_(("pending", "failed")),
                                Alert.delivery_attempts < max_attempts).order_by(col(Alert.id))
        ))
    delivered = []
    for alert in waiting:
        error: str | None = None
        attempts = 0
        for attempt in range(min(attempts_per_call, max_attempts - alert.delivery_attempts)):
            attempts += 1
            try:
                _post(webhook_url, payload(alert, app_url=app_url), timeout_s)
                error = None
                break
            except urllib.error.HTTPError as exc:
                error = f"HTTP {exc.code} {exc.reason}"
            except (urllib.error.URLError, OSError) as exc:
                reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
                error = f"{type(reason).__name__}: {reason}"
            time.sleep(backoff_s * 2**attempt)
        with engine.begin() as connection:
            connection.execute(
                sa.update(Alert.__table__).where(Alert.__table__.c.id == alert.id).values(  # type: ignore[attr-defined]
                    delivery_status="delivered" if error is None else "failed",
                    delivery_attempts=Alert.__table__.c.delivery_attempts + attempts,  # type: ignore[attr-defined]
                    last_delivery_error=error,
                )
            )
        if error is None:
            delivered.append(alert)
        else:
            logger.warning("alert %s: webhook delivery failed after %d attempts: %s", alert.key, attempts, error)
    return delivered
