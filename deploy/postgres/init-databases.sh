#!/bin/sh
# One database and one login role per service; each role owns only its own database.
set -eu
for service in orders fees notifications complaints; do
  password_var="AZL_$(echo "$service" | tr '[:lower:]' '[:upper:]')_DB_PASSWORD"
  password=$(printenv "$password_var" || echo "${service}-dev-password")
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" <<SQL
CREATE ROLE azl_${service} LOGIN PASSWORD '${password}';
CREATE DATABASE azl_${service} OWNER azl_${service};
REVOKE ALL ON DATABASE azl_${service} FROM PUBLIC;
SQL
done
