"""Hybrid session store: in-process cache -> Redis -> document store (the call issue builds it)."""
