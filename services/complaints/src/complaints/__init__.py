"""The complaints service: claims, disputes and refund requests (spec §5)."""
