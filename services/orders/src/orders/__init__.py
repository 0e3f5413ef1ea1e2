"""The orders service: owns every order and each of its state transitions (spec §3)."""
