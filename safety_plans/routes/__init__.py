"""Safety plan blueprints: the plan (``plan``), risk (``risk``), the journal (``journal``) and
the evidence keys (``evidence``); what each route does first is in ``common``."""
