"""The AZL operator CLI."""
