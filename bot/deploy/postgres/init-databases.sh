#!/bin/sh
# Runs once, when the postgres volume is still empty (the official image runs every script in
# /docker-entrypoint-initdb.d): one role and one database for the bot, one for Synapse (C
# collation and ctype, which Synapse requires). Neither role can connect to the other's
# database. The passwords come from the container's environment, set from .env by
# docker-compose.yml; psql quotes them (:'var'), so any character is safe here.
set -e
: "${ENTRAIDE_DB_PASSWORD:?ENTRAIDE_DB_PASSWORD is not set}"
: "${SYNAPSE_DB_PASSWORD:?SYNAPSE_DB_PASSWORD is not set}"

psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
    -v entraide_password="$ENTRAIDE_DB_PASSWORD" -v synapse_password="$SYNAPSE_DB_PASSWORD" <<'SQL'
CREATE ROLE entraide LOGIN PASSWORD :'entraide_password';
CREATE DATABASE entraide OWNER entraide ENCODING 'UTF8';
REVOKE ALL ON DATABASE entraide FROM PUBLIC;

CREATE ROLE synapse LOGIN PASSWORD :'synapse_password';
CREATE DATABASE synapse OWNER synapse ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'
    TEMPLATE template0;
REVOKE ALL ON DATABASE synapse FROM PUBLIC;
SQL
