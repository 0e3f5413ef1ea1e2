"""The fees service: the fee catalog, pricing and the per-order ledger (spec §4)."""
