"""The evidence keys: public, so that a court or a lawyer can verify an export offline."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import fields

from core.schemas import Schema
from safety_plans import bundle
from web.db import runtime

blp = Blueprint(
    "evidence_keys",
    __name__,
    description="Public keys that verify signed journal exports (no credential needed).",
)


class EvidenceKeySchema(Schema):
    key_id = fields.String(
        required=True, metadata={"description": "Named by a bundle's `signature.json`"}
    )
    algorithm = fields.String(required=True, metadata={"example": "Ed25519"})
    public_key = fields.String(
        required=True, metadata={"description": "The raw 32-byte public key, base64url"}
    )
    public_key_pem = fields.String(
        required=True,
        metadata={"description": "The same key as PEM (SubjectPublicKeyInfo), for OpenSSL"},
    )
    current = fields.Boolean(
        required=True,
        metadata={"description": "Signs new exports; older keys verify the exports they signed"},
    )


class EvidenceKeyListSchema(Schema):
    keys = fields.List(fields.Nested(EvidenceKeySchema), required=True)


@blp.route("/evidence-keys")
class EvidenceKeys(MethodView):
    @blp.response(200, EvidenceKeyListSchema)
    def get(self) -> Any:
        """Every public key that has signed journal exports, by key id."""
        return {"keys": bundle.published_keys(runtime().keyring)}
