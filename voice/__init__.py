"""Twilio voice webhooks (the call issue builds the routes here)."""
