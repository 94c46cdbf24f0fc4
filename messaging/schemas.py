"""The wire format of conversations, the survivor's phone number and the SMS webhooks."""

from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from core.pages import PageQuerySchema, PageSchema, limit_field
from core.schemas import Schema, text
from messaging.conversations import LIFETIMES, MAX_BODY_CHARS, MAX_PAGE


class MessagePageArgsSchema(PageQuerySchema):
    limit = limit_field(MAX_PAGE)


class SendMessageSchema(Schema):
    body = text(MAX_BODY_CHARS)


class MessagesReadSchema(Schema):
    up_to = fields.UUID(
        required=True, metadata={"description": "Everything received up to this message is read"}
    )


class MessagesUnreadSchema(Schema):
    unread = fields.Integer(required=True)


class SurvivorMessageSchema(Schema):
    id = fields.UUID(required=True)
    # "me" or "team": the app never names which advocate wrote.
    from_ = fields.String(required=True, data_key="from")
    body = fields.String(required=True)
    sent_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    read_at = fields.DateTime(allow_none=True)


class SurvivorPageSchema(PageSchema):
    items = fields.List(fields.Nested(SurvivorMessageSchema), required=True)


class MessageReceiptSchema(Schema):
    reader = fields.String(required=True, metadata={"description": "survivor or staff"})
    staff_id = fields.UUID(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    read_at = fields.DateTime(allow_none=True)


class StaffMessageSchema(Schema):
    id = fields.UUID(required=True)
    from_ = fields.String(required=True, data_key="from")
    staff_id = fields.UUID(allow_none=True)
    via = fields.String(required=True, metadata={"description": "app or sms"})
    body = fields.String(required=True)
    sent_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(allow_none=True)
    receipts = fields.List(fields.Nested(MessageReceiptSchema), required=True)


class StaffPageSchema(PageSchema):
    items = fields.List(fields.Nested(StaffMessageSchema), required=True)


class SurvivorUnreadSchema(Schema):
    survivor_id = fields.UUID(required=True)
    unread = fields.Integer(required=True)


class StaffUnreadSchema(Schema):
    items = fields.List(fields.Nested(SurvivorUnreadSchema), required=True)


class MessageSettingsSchema(Schema):
    disappear_after = fields.String(required=True, validate=validate.OneOf(list(LIFETIMES)))
    reply_by_sms = fields.Boolean(
        required=True,
        metadata={"description": "Also text the team's replies to my phone (shows on its screen)"},
    )


class MessageSettingsUpdateSchema(Schema):
    """Leave a field out to keep it."""

    disappear_after = fields.String(validate=validate.OneOf(list(LIFETIMES)))
    reply_by_sms = fields.Boolean()


class SurvivorPhoneSchema(Schema):
    phone = text(32, metadata={"description": "Any common format; stored encrypted"})


def twilio_form_doc(description: str) -> dict[str, Any]:
    """OpenAPI for a Twilio webhook: a signed form in, an empty TwiML document out."""
    # A free-form OpenAPI fragment for ``blp.doc``, not a result a view returns: a plain dict.
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "MessageSid": {"type": "string", "maxLength": 64},
                            "From": {"type": "string", "maxLength": 32},
                            "Body": {"type": "string", "maxLength": 1600},
                            "MessageStatus": {"type": "string", "maxLength": 32},
                            "ErrorCode": {"type": "string", "maxLength": 8},
                        },
                        "additionalProperties": {"type": "string"},
                    }
                }
            },
        },
        "responses": {
            "200": {
                "description": description,
                "content": {
                    "text/xml": {
                        "schema": {"type": "string"},
                        "example": '<?xml version="1.0" encoding="UTF-8"?><Response></Response>',
                    }
                },
            }
        },
        "parameters": [
            {
                "name": "X-Twilio-Signature",
                "in": "header",
                "required": True,
                "schema": {"type": "string", "maxLength": 200},
            }
        ],
    }
