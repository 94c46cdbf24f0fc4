"""Lantern's ground floor: settings, database, crypto, audit, durable jobs, errors, clock."""
