"""Survivors: enrollment by an advocate's code, PIN login and device sessions, quick exit, the
PIN and duress PIN, decoy accounts and the duress alert."""
