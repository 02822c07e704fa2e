-- Teams get their own requests- and tokens-per-minute limits, shared by
-- every key of the team; 0 means none. Before this, team limits could only
-- come from the config file.
ALTER TABLE teams ADD COLUMN rpm INTEGER NOT NULL DEFAULT 0;
ALTER TABLE teams ADD COLUMN tpm INTEGER NOT NULL DEFAULT 0;
