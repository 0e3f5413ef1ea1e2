"""The shared runtime of AZL Orders services.

Written once and used by every service: settings, JSON logging, topology, the message
pipeline (decode, authorise, inbox, handler, outbox, outcome, retry, dead-letter), the outbox
relay, HTTP health/readiness/metrics/auth, and the service app factory.
"""
