"""The OpenAPI 3 document, generated from the API's routes and their declarations.

Each view of ``app/api/views.py`` carries one ``@operation(...)`` declaration: a summary,
the marshmallow schemas of its query, body and answer, and the errors it may give. The
declaration is also what loads the request, so the document cannot drift from the code:
``query=`` loads ``request.args`` into the view's ``args`` keyword, ``body=`` loads the
JSON object into ``body`` (400 when it is not an object, 422 with field errors when it does
not validate). apispec's FlaskPlugin turns the blueprint's URL rules into paths (an
``<int:...>`` part becomes a path parameter that stops at the largest row id), and its
MarshmallowPlugin turns the schemas into components named after them (``NeedSchema`` ->
``Need``). A view behind ``token_required`` is documented as needing the bearer token (and
answering 401 without one).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import wraps
from http import HTTPStatus
from typing import Any, TypeVar

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from apispec_webframeworks.flask import FlaskPlugin
from flask import Flask, request
from flask_babel import gettext as _
from marshmallow import Schema, ValidationError
from werkzeug.routing import Rule

from app import MAX_ROW_ID
from app.api import schemas
from app.api.schemas import ErrorSchema
from app.errors import DomainError, ValidationFailed

F = TypeVar("F", bound=Callable[..., Any])
SchemaRef = type[Schema] | Schema

# Marks on a view function (copied outwards by functools.wraps).
_OPERATION = "__openapi_operation__"
SECURED = "__openapi_secured__"


@dataclass(frozen=True)
class Operation:
    """What ``@operation`` declared about one view."""

    summary: str
    description: str | None = None
    query: SchemaRef | None = None
    body: SchemaRef | None = None
    returns: SchemaRef | None = None
    status: int = 200
    errors: Mapping[int, str] = field(default_factory=dict)
    also: Mapping[int, tuple[str, SchemaRef]] = field(default_factory=dict)
    parameters: Sequence[Mapping[str, Any]] = ()


def operation(
    summary: str,
    *,
    description: str | None = None,
    query: SchemaRef | None = None,
    body: SchemaRef | None = None,
    returns: SchemaRef | None = None,
    status: int = 200,
    errors: Mapping[int, str] | None = None,
    also: Mapping[int, tuple[str, SchemaRef]] | None = None,
    parameters: Sequence[Mapping[str, Any]] = (),
) -> Callable[[F], F]:
    """Declare (and document) an API operation; put it just above the view function.

    ``returns`` is the schema of the answer given with ``status``; ``errors`` maps the other
    statuses the view may answer to what they mean (400 and 422 come with ``body``/``query``,
    401 with ``token_required``); ``also`` documents other successful answers as
    ``{status: (meaning, schema)}``; ``parameters`` are raw OpenAPI parameters for what a
    schema cannot say.
    """
    declared = Operation(
        summary=summary,
        description=description,
        query=query,
        body=body,
        returns=returns,
        status=status,
        errors=dict(errors or {}),
        also=dict(also or {}),
        parameters=tuple(parameters),
    )

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if declared.body is not None:
                kwargs["body"] = load(declared.body, json_body())
            if declared.query is not None:
                kwargs["args"] = load(declared.query, request.args.to_dict())
            return view(*args, **kwargs)

        setattr(wrapped, _OPERATION, declared)
        return wrapped  # type: ignore[return-value]

    return decorate


def load(schema: SchemaRef, data: Any) -> dict[str, Any]:
    """Validate ``data`` with ``schema``; field errors become a 422 (ValidationFailed)."""
    instance = schema() if isinstance(schema, type) else schema
    try:
        return instance.load(data)  # type: ignore[no-any-return]
    except ValidationError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_schema": exc.messages}
        raise ValidationFailed(_("Some fields are not valid."), messages) from None  # type: ignore[arg-type]


def json_body() -> Any:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise DomainError(_("Send a JSON object in the request body."))
    return data


class _DeclaredOperations(FlaskPlugin):
    """FlaskPlugin (paths from URL rules, YAML after ``---`` in a docstring) plus the
    ``@operation`` declarations, relative to the blueprint's prefix."""

    def path_helper(  # type: ignore[override]
        self,
        path: str | None = None,
        operations: dict[str, Any] | None = None,
        parameters: list[dict[str, Any]] | None = None,
        *,
        view: Callable[..., Any] | None = None,
        app: Flask | None = None,
        prefix: str = "",
        **kwargs: Any,
    ) -> str | None:
        assert view is not None and operations is not None and app is not None
        full_path = super().path_helper(path, operations, parameters, view=view, app=app)
        assert full_path is not None
        declared: Operation | None = getattr(view, _OPERATION, None)
        rule = self._rule_for_view(view, app=app)
        if declared is not None:
            secured = bool(getattr(view, SECURED, False))
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                described = _operation_dict(declared, secured)
                parameters = [*_path_parameters(rule), *described.get("parameters", [])]
                if parameters:
                    described["parameters"] = parameters
                operations[method.lower()] = described
        return full_path.removeprefix(prefix) or "/"


_RULE_PART = re.compile(r"<(?:([^:<>(]+)(?:\([^)]*\))?:)?([^<>]+)>")


def _path_parameters(rule: Rule) -> list[dict[str, Any]]:
    """The variable parts of the URL rule. ``<int:x>`` is a row id: beyond INTEGER there is
    no row (the app answers 404)."""
    found = []
    for converter, name in _RULE_PART.findall(rule.rule):
        schema: dict[str, Any] = {"type": "string"}
        if converter == "int":
            schema = {"type": "integer", "minimum": 0, "maximum": MAX_ROW_ID}
        found.append({"in": "path", "name": name, "required": True, "schema": schema})
    return found


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ErrorSchema}}}


def _answer(description: str, schema: SchemaRef) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _operation_dict(declared: Operation, secured: bool) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    phrase = HTTPStatus(declared.status).phrase
    responses[str(declared.status)] = (
        {"description": phrase} if declared.returns is None else _answer(phrase, declared.returns)
    )
    for status, (description, schema) in declared.also.items():
        responses[str(status)] = _answer(description, schema)
    if declared.body is not None:
        responses["400"] = _error("Not a JSON object")
        responses["422"] = _error("Invalid fields")
    if declared.query is not None:
        responses["422"] = _error("Invalid filter")
    if secured:
        responses["401"] = _error("Missing or invalid token")
    for status, description in declared.errors.items():
        responses[str(status)] = _error(description)
    result: dict[str, Any] = {
        "summary": declared.summary,
        "responses": dict(sorted(responses.items())),
    }
    if declared.description:
        result["description"] = declared.description
    if secured:
        result["security"] = [{"bearer": []}]
    parameters: list[Any] = []
    if declared.query is not None:
        parameters.append({"in": "query", "schema": declared.query})
    parameters.extend(dict(p) for p in declared.parameters)
    if parameters:
        result["parameters"] = parameters
    if declared.body is not None:
        result["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": declared.body}},
        }
    return result


def build_openapi(app: Flask, blueprint: str = "api") -> dict[str, Any]:
    """The document for ``blueprint``'s routes (built once per app)."""
    cached: dict[str, Any] | None = app.extensions.get("openapi")
    if cached is not None:
        return cached
    spec = APISpec(
        title="善联 Shanlian API",
        version="1.0.0",
        openapi_version="3.0.3",
        plugins=[_DeclaredOperations(), MarshmallowPlugin()],
        info={
            "description": "Verified needs of households in hardship, and how to help. "
            "Household identities are never part of the API."
        },
        servers=[{"url": app.blueprints[blueprint].url_prefix or "/"}],
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    # Every schema of app/api/schemas.py is a component named after it (NeedHitSchema ->
    # NeedHit), so a field's metadata may point at one with a plain "$ref".
    for name, value in sorted(vars(schemas).items()):
        component = name.removesuffix("Schema")
        if _is_own_schema(value) and component not in spec.components.schemas:
            spec.components.schema(component, schema=value)  # (or already, as nested)
    prefix = app.blueprints[blueprint].url_prefix or ""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions[rule.endpoint]
        if rule.endpoint.startswith(f"{blueprint}.") and is_declared(view):
            spec.path(view=view, app=app, prefix=prefix)
    document = spec.to_dict()
    app.extensions["openapi"] = document
    return document


def is_declared(view: Callable[..., Any]) -> bool:
    """Declared with ``@operation``, or documented by YAML after ``---`` in its docstring."""
    return hasattr(view, _OPERATION) or "---" in (view.__doc__ or "")


def _is_own_schema(value: Any) -> bool:
    return (
        isinstance(value, type)
        and issubclass(value, Schema)
        and value.__module__ == schemas.__name__
    )
