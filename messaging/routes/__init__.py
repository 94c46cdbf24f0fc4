"""Conversation blueprints: the survivor's app (``survivor``) and the staff console (``staff``);
``common`` is what a staff view checks first (step-up, then the survivor's record).
Twilio's webhooks are ``messaging.sms.routes``; check-ins' are ``messaging.checkins.routes``."""
