"""Coordination blueprints: the survivor's app (``survivor``), advocates (``staff``), partner
agencies (``partner``) and admins (``admin``); what they share is in ``common``."""
