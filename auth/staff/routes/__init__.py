"""The staff routes: a member's own identity (``own``), an admin's management of staff
(``admin``), and the notice inbox (``notices``)."""
