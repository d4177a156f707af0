"""The OpenAPI 3 document, built from the same marshmallow schemas the views use."""

from __future__ import annotations

from functools import cache
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin

from app.api import schemas

_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": _ERROR}


@cache
def build_openapi() -> dict[str, Any]:
    spec = APISpec(
        title="善联 Shanlian API",
        version="1.0.0",
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={
            "description": "Verified needs of households in hardship, and how to help. "
            "Household identities are never part of the API."
        },
        servers=[{"url": "/api/v1"}],
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("Need", schema=schemas.NeedSchema)
    spec.components.schema("NeedPage", schema=schemas.NeedPageSchema)
    spec.components.schema("TokenRequest", schema=schemas.TokenRequestSchema)
    spec.components.schema("Token", schema=schemas.TokenSchema)
    spec.components.schema("Me", schema=schemas.MeSchema)
    spec.components.schema("Error", schema=schemas.ErrorSchema)

    spec.path(
        path="/needs",
        operations={
            "get": {
                "summary": "List verified needs",
                "parameters": [{"in": "query", "schema": schemas.NeedListQuerySchema}],
                "responses": {
                    "200": {
                        "description": "A page of needs",
                        "content": {"application/json": {"schema": "NeedPage"}},
                    },
                    "422": _error("Invalid filter"),
                },
            }
        },
    )
    spec.path(
        path="/needs/{need_id}",
        operations={
            "get": {
                "summary": "One verified need",
                "parameters": [
                    {
                        "in": "path",
                        "name": "need_id",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 0},
                    }
                ],
                "responses": {
                    "200": {
                        "description": "The need",
                        "content": {"application/json": {"schema": "Need"}},
                    },
                    "404": _error("No public need with this id"),
                },
            }
        },
    )
    spec.path(
        path="/auth/token",
        operations={
            "post": {
                "summary": "Exchange email and password for a bearer token",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": "TokenRequest"}},
                },
                "responses": {
                    "201": {
                        "description": "A token",
                        "content": {"application/json": {"schema": "Token"}},
                    },
                    "400": _error("Not a JSON object"),
                    "403": _error("Wrong email or password"),
                    "422": _error("Invalid fields"),
                    "429": _error("Too many attempts"),
                },
            }
        },
    )
    spec.path(
        path="/me",
        operations={
            "get": {
                "summary": "The account behind the token",
                "security": [{"bearer": []}],
                "responses": {
                    "200": {
                        "description": "The account",
                        "content": {"application/json": {"schema": "Me"}},
                    },
                    "401": _error("Missing or invalid token"),
                },
            }
        },
    )
    return spec.to_dict()
