"""Safety plans, risk assessments, recommendations and the evidence journal (issue 4).

Modules: models (rows), sections/profile/plans (the living plan), instruments/assessments
(risk), recommendations (tailoring), journal/chain/attachments/storage/bundle (evidence),
schemas*, routes_* (HTTP), setup (how the shell plugs this package in).
"""
