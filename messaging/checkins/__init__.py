"""Discreet check-ins that escalate: schedules, disguised SMS, reply codes, dead-man timer."""
