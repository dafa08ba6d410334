-- Placeholder for the lead's 9_input_health.sql (postgres-migrations wants consecutive ids): drop
-- this file when merging branch h-region.
SELECT 1;
