"""The notifications service: alerts to customers, staff and subscribed systems (spec §6)."""
