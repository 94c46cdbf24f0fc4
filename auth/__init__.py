"""Identity and access: who is calling, and what they may reach.

One package per kind of person authenticated, each with the rooms of every domain (``models``,
``schemas``, services named for what they do, ``routes``): ``staff`` (accounts, password and TOTP
login, recovery codes, sessions, step-up, the duty phone, the notice inbox), ``survivors``
(enrollment, PIN login, device sessions, PINs, decoy accounts, the duress alert), ``partners``
(agencies and their API keys) and ``access`` (the access rules, caseloads, break-glass, the
survivor's access log); what every login shares stays here (``principals``, ``authn``,
``attempts`` and its table in ``models``, ``deps`` for the collaborators the composition root
builds once per process, and ``wiring`` for the job kinds).
Authorisation happens before a service is called, in two steps, the same in every domain. The
endpoint's access rule, ``@allow(RULE)`` from ``access.permissions``, decides who may call it
(kind, role, partner scope) before anything is parsed; then the view, for a route about one
survivor, reaches her record once (``require_staff_access`` or ``require_survivor_access``:
caseload or break-glass, audited) and adds a step-up where the action needs one
(``require_fresh_second_factor``). The view passes the service the principal the rule admitted
(``admitted(StaffPrincipal)``) or the ``SurvivorAccess`` it obtained, and the service's
signature names that type: a ``SurvivorAccess`` parameter is the proof that the record check
ran. A service never checks the caller's kind, role or record again; it decides only what the
data tells (whether a notice, a device or a session is the caller's own).
"""
