"""Test support: real RabbitMQ and PostgreSQL, service processes, a bus client, tokens."""
