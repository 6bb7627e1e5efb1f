"""Learning loops: improvements proposed from real turns, for staff to approve (not built yet)."""
