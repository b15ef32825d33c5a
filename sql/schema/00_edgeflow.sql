-- The engine's schema and its types (tables are in the numbered files that follow).

create schema if not exists edgeflow;
