-- Per-realm read-only access on a ClickHouse server (production), for analysts and Grafana.
--
-- Headwater's SQL route (POST /appengine/v1/{realm}/sql) already runs queries with readonly=1,
-- checks which tables they read and adds `realm = '<realm>'` to every read of the data tables
-- (pipeline/store/realmsql.py): that is all chDB allows. On a server, give each realm's readers
-- a user of their own whose row policies ClickHouse enforces whatever the query says.
-- Replace acme / acme_reader / the password; run as an admin (clickhouse-client --multiquery).

CREATE ROLE IF NOT EXISTS realm_acme_reader;
GRANT SELECT ON headwater.individual_datastreams TO realm_acme_reader;
GRANT SELECT ON headwater.properties TO realm_acme_reader;
GRANT SELECT ON headwater.device_events TO realm_acme_reader;

-- A row policy on a table hides every row no policy lets through, for every user; so the
-- Headwater service user (and admins) need a policy of their own that lets them see all rows.
CREATE ROW POLICY IF NOT EXISTS realm_acme ON headwater.individual_datastreams
    FOR SELECT USING realm = 'acme' TO realm_acme_reader;
CREATE ROW POLICY IF NOT EXISTS realm_acme ON headwater.properties
    FOR SELECT USING realm = 'acme' TO realm_acme_reader;
CREATE ROW POLICY IF NOT EXISTS realm_acme ON headwater.device_events
    FOR SELECT USING realm = 'acme' TO realm_acme_reader;
CREATE ROW POLICY IF NOT EXISTS headwater_all ON headwater.individual_datastreams
    FOR SELECT USING 1 TO headwater;
CREATE ROW POLICY IF NOT EXISTS headwater_all ON headwater.properties
    FOR SELECT USING 1 TO headwater;
CREATE ROW POLICY IF NOT EXISTS headwater_all ON headwater.device_events
    FOR SELECT USING 1 TO headwater;

CREATE USER IF NOT EXISTS acme_reader IDENTIFIED WITH sha256_password BY 'change-me'
    SETTINGS readonly = 1, max_execution_time = 30, max_result_rows = 1000000
    DEFAULT ROLE realm_acme_reader;
GRANT realm_acme_reader TO acme_reader;
