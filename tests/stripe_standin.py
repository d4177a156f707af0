"""A local HTTP server playing Stripe's part, for tests.

The real ``stripe`` library talks to it (``STRIPE_API_BASE``): it creates Checkout Sessions
and Refunds, honours idempotency keys as Stripe does (same key, same answer), records every
request, and serves a tiny hosted-checkout page whose "Pay" button sends a signed
``checkout.session.completed`` webhook to the app and returns the browser to its success URL.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import stripe
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

WEBHOOK_SECRET = "whsec_test_standin_secret"
SECRET_KEY = "sk_test_standin"


def _nest(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding (``a[b][0][c]=v``) back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = key.replace("]", "").split("[")
        node: Any = root
        for part, following in zip(parts, parts[1:] + [None], strict=True):
            if following is None:
                node[part] = value
                break
            child = node.get(part) if isinstance(node, dict) else None
            if child is None:
                child = {}
                node[part] = child
            node = child
    return root


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None


@dataclass
class StripeStandIn:
    url: str = ""
    webhook_url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: list[dict[str, Any]] = field(default_factory=list)
    fail_refunds: bool = False
    _by_key: dict[str, Response] = field(default_factory=dict)
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # --- the API ----------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        return self.dispatch(request)(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        if request.path.startswith("/pay/"):
            return self._hosted_page(request)
        params = _nest(parse_qsl(request.get_data(as_text=True), keep_blank_values=True))
        key = request.headers.get("Idempotency-Key")
        with self._lock:
            self.requests.append(Recorded(request.method, request.path, params, key))
            if key and key in self._by_key:
                return self._by_key[key]
            response = self._api(request.method, request.path, params)
            if key and response.status_code < 500:
                self._by_key[key] = response
            return response

    def _api(self, method: str, path: str, params: dict[str, Any]) -> Response:
        if method == "POST" and path == "/v1/checkout/sessions":
            n = next(self._ids)
            session_id = f"cs_test_{n}"
            line = params["line_items"]["0"]
            session = {
                "id": session_id,
                "object": "checkout.session",
                "mode": params.get("mode"),
                "url": f"{self.url}/pay/{session_id}",
                "status": "open",
                "payment_status": "unpaid",
                "payment_intent": f"pi_test_{n}",
                "amount_total": int(line["price_data"]["unit_amount"]),
                "currency": line["price_data"]["currency"],
                "metadata": params.get("metadata", {}),
                "client_reference_id": params.get("client_reference_id"),
                "success_url": params["success_url"],
                "cancel_url": params["cancel_url"],
            }
            self.sessions[session_id] = session
            return _json(session)
        if method == "POST" and path == "/v1/refunds":
            if self.fail_refunds:
                return _json({"error": {"type": "api_error", "message": "down"}}, 500)
            refund = {
                "id": f"re_test_{next(self._ids)}",
                "object": "refund",
                "amount": int(params["amount"]),
                "payment_intent": params["payment_intent"],
                "status": "succeeded",
                "metadata": params.get("metadata", {}),
            }
            self.refunds.append(refund)
            return _json(refund)
        return _json(
            {"error": {"type": "invalid_request_error", "message": f"no route {method} {path}"}},
            404,
        )

    # --- events -----------------------------------------------------------------------
    def event(self, session_id: str, kind: str = "checkout.session.completed") -> str:
        """A webhook payload for one of the sessions it created."""
        session = dict(self.sessions[session_id])
        if kind in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
            session.update(status="complete", payment_status="paid")
        elif kind == "checkout.session.expired":
            session.update(status="expired")
        n = next(self._ids)
        return json.dumps(
            {
                "id": f"evt_test_{n}",
                "object": "event",
                "type": kind,
                "created": int(time.time()),
                "data": {"object": session},
            }
        )

    @staticmethod
    def sign(payload: str, secret: str = WEBHOOK_SECRET) -> str:
        return stripe.WebhookSignature.generate_signature_header(payload, secret)

    def send(self, payload: str) -> int:
        request = urllib.request.Request(
            self.webhook_url,
            data=payload.encode(),
            method="POST",
            headers={"Content-Type": "application/json", "Stripe-Signature": self.sign(payload)},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)

    # --- the hosted checkout page ------------------------------------------------------
    def _hosted_page(self, request: Request) -> Response:
        session_id = request.path.rsplit("/", 1)[-1]
        session = self.sessions.get(session_id)
        if session is None:
            return Response("no such session", status=404)
        if request.method == "POST":
            if request.form.get("action") == "pay":
                self.send(self.event(session_id))
                target = session["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id)
            else:
                target = session["cancel_url"]
            return Response(status=303, headers={"Location": target})
        amount = session["amount_total"] / 100
        html = f"""<!doctype html><html><head><meta charset="utf-8"><title>Stripe test checkout</title></head>
<body><h1>Test checkout</h1><p id="amount">{amount:.2f} {session["currency"].upper()}</p>
<form method="post"><button name="action" value="pay" id="pay">Pay</button>
<button name="action" value="cancel" id="cancel">Cancel</button></form></body></html>"""
        return Response(html, mimetype="text/html")


def _json(body: dict[str, Any], status: int = 200) -> Response:
    return Response(
        json.dumps(body),
        status=status,
        mimetype="application/json",
        headers={"Request-Id": "req_test"},
    )


def start() -> tuple[StripeStandIn, Any]:
    standin = StripeStandIn()
    server = make_server("127.0.0.1", 0, standin, threaded=True)
    standin.url = f"http://127.0.0.1:{server.server_port}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return standin, server
