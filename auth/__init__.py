"""Identity and access: who is calling, and what they may reach.

One package per kind of person authenticated, each with the rooms of every domain (``models``,
``schemas``, services named for what they do, ``routes``): ``staff`` (accounts, password and TOTP
login, recovery codes, sessions, step-up, the duty phone, the notice inbox), ``survivors``
(enrollment, PIN login, device sessions, PINs, decoy accounts, the duress alert), ``partners``
(agencies and their API keys) and ``access`` (the access rules, caseloads, break-glass, the
survivor's access log); what every login shares stays here (``principals``, ``authn``,
``attempts`` and its table in ``models``, and ``wiring`` for the job kinds).
Authorisation happens at the endpoint: who may call it (kind, role, partner scope) is its access
rule, ``@allow(RULE)`` from ``access.permissions``, checked before anything is parsed; the view
adds a step-up where the action needs one (``require_fresh_second_factor``) and passes the
principal the rule admitted (``admitted(StaffPrincipal)``) to the service, whose signature names
that type. A service does not check the caller's kind or role again; it decides what the data
tells: whether the caller reaches this survivor's record (``require_staff_access``, the one check
every domain uses for staff, which also denies by default anyone but a caseworker, or
``require_survivor_access``; caseload or break-glass, audited) and whether a row is the caller's
own (a notice, a device, a session).
"""
