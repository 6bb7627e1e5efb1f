"""Learning loops: suggestions from real turns for staff to approve (a later issue)."""
