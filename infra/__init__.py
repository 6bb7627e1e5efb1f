"""Neutral plumbing any layer may use: circuit breakers, the Redis client, the observer protocol."""
