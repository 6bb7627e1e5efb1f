"""Staff-facing HTTP: admin API, forensics, dashboard (the call issue builds it)."""
