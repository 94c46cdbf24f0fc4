"""Partner agencies: their registration and API keys (admins), and a key's own identity."""
