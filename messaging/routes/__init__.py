"""Conversation blueprints: the survivor's app (``survivor``) and the staff console (``staff``).
Twilio's webhooks are ``messaging.sms.routes``; check-ins' are ``messaging.checkins.routes``."""
