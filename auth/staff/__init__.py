"""Staff: accounts and invitations, password and TOTP login, recovery codes, sessions and
step-up, the duty phone, and the notice inbox."""
