BEGIN TRANSACTION;
CREATE TABLE audit (
    seq       INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    tool      TEXT,
    version   INTEGER,
    details   TEXT NOT NULL DEFAULT '{}',
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
INSERT INTO "audit" VALUES(1,'2026-12-05T12:13:27.590406Z','root','trust-add',NULL,NULL,'{"key_id":"cae17b9e38aac59b","name":"release"}','0000000000000000000000000000000000000000000000000000000000000000','47992a309780a0cd0abea6130ad3927428f6c34223d418431525093c0d3a9a10');
INSERT INTO "audit" VALUES(2,'2026-12-05T12:13:27.742781Z','root','publish','prune',1,'{"chain":"354b38ab6c201c63123c531992994daf895b12ef17536bc8d5fe253880329629","content":"3e7130c7ac093e0cd15a3eaa79222f86545c6b737e1671f9d748ab1209a355f1","fields":"3f9a12c7ec667c1e2112c25227775b76a4d2664b55bf64b6367bf190a202cb91","owner":"root","provenance":"d77d29df6d2ff4811e1f641667182e45e962841bc04f8b6ae7821f53414a95d3","sha256":"36803a17e2e24bd44e8a5c7cca3c3066e58dbbaba25ec403fd4c69b306383012","signed_by":"cae17b9e38aac59b"}','47992a309780a0cd0abea6130ad3927428f6c34223d418431525093c0d3a9a10','8e88a740789ec63313e6963b80693df3037b88d32d270b5bfa8ab0a1be2f8d6d');
INSERT INTO "audit" VALUES(3,'2026-12-05T12:13:27.893475Z','root','publish','prune',2,'{"chain":"fa60e68a28b7fdeacb0e9ce9c2ae2051eb0738b48fd0df973acee9db2eedd0df","content":"452df24856d8cc168f616ad33ec35284889ffbef13da0ab6e3a4cc243858ced0","fields":"b51f907da63fa0d18732eba4ddd9df515a135974e49bc072a888139f59796f96","owner":"root","provenance":"6fc19aa87e7d67f622cbefb1a0df74a49eb70e93d7615014195084c8fe215050","sha256":"7191b8340566fbd5a61b11626dfe35a7537d523043a9856178e7bbe63fe33272","signed_by":"cae17b9e38aac59b"}','8e88a740789ec63313e6963b80693df3037b88d32d270b5bfa8ab0a1be2f8d6d','c8f29d000be8b3c8e1091ddf967709ab76c54660b52affb85f272de4ab7b27cf');
INSERT INTO "audit" VALUES(4,'2026-12-05T12:13:28.034095Z','root','publish','plain',1,'{"chain":"baf53c76a0b6151c0f6720628f9aa7dbf7f5618ebac8446e5dde42a8c8421918","content":"452df24856d8cc168f616ad33ec35284889ffbef13da0ab6e3a4cc243858ced0","fields":"1d6be52b55cb53957c3d1e830d7c6b81c3f2e665a8c3d7230e2041b99c3fb265","owner":"root","provenance":"f53eb7f26d95dd59193238cab8d22c006754dc850f73560996b694369a633a84","sha256":"7191b8340566fbd5a61b11626dfe35a7537d523043a9856178e7bbe63fe33272","signed_by":null}','c8f29d000be8b3c8e1091ddf967709ab76c54660b52affb85f272de4ab7b27cf','ea6c6c72f0769d1a5dcaedb8601aa0ef76e723095ac3f6437df71b4523bd6a3c');
CREATE TABLE blobs (
    sha256  TEXT PRIMARY KEY CHECK (length(sha256) = 64),
    size    INTEGER NOT NULL CHECK (size >= 0),
    content BLOB NOT NULL
);
INSERT INTO "blobs" VALUES('36803a17e2e24bd44e8a5c7cca3c3066e58dbbaba25ec403fd4c69b306383012',77,X'23212F62696E2F73680A23205072756E65206D6572676564206272616E636865732E0A230A232055736167653A207072756E65205B2D6E5D0A676974206272616E6368202D2D6D65726765640A');
INSERT INTO "blobs" VALUES('7191b8340566fbd5a61b11626dfe35a7537d523043a9856178e7bbe63fe33272',74,X'23212F62696E2F73680A23205072756E65206D6572676564206272616E636865732C2076322E0A676974206272616E6368202D2D6D6572676564207C2067726570202D76206D61696E0A');
CREATE TABLE checkpoints (
    seq        INTEGER PRIMARY KEY,
    hash       TEXT NOT NULL,
    at         TEXT NOT NULL,
    key_id     TEXT NOT NULL,
    public_key TEXT NOT NULL,
    signature  TEXT NOT NULL,
    prev       TEXT NOT NULL
);
INSERT INTO "checkpoints" VALUES(1,'47992a309780a0cd0abea6130ad3927428f6c34223d418431525093c0d3a9a10','2026-12-05T12:13:27.590939Z','a6f3ac55aec2a8bb','ed25519:P0hUZ7UH7clEGN5/M9SKAI95CcvRwsL4zEzKFkdNR9o=','tOyDaM3DJkrQ/GZwu6y2s2jr6YyC0QZWHvWL35nFxtXBk2q+3AvEn0+dRG/MjiokukgP7QDXBuJIK16CuKNjAw==','0000000000000000000000000000000000000000000000000000000000000000');
INSERT INTO "checkpoints" VALUES(2,'8e88a740789ec63313e6963b80693df3037b88d32d270b5bfa8ab0a1be2f8d6d','2026-12-05T12:13:27.743196Z','a6f3ac55aec2a8bb','ed25519:P0hUZ7UH7clEGN5/M9SKAI95CcvRwsL4zEzKFkdNR9o=','/G2rLRGsGpDDwdLZXZ7oZ5NFD5lsFyKDn5gcIwPsZwQyP3BCHD6jBMnq3L6zJ5uYGY9X+TiuMNLkoMTczIgICQ==','0c511cd0d13206d99c88888f783954fbe5a1b2fe107492256ac738b49567d3e4');
INSERT INTO "checkpoints" VALUES(3,'c8f29d000be8b3c8e1091ddf967709ab76c54660b52affb85f272de4ab7b27cf','2026-12-05T12:13:27.893903Z','a6f3ac55aec2a8bb','ed25519:P0hUZ7UH7clEGN5/M9SKAI95CcvRwsL4zEzKFkdNR9o=','aI3X8Z3ZG2SoysKJrmyNhRTwm8alnA4P5IyUAvMkMU5XoBJMoOR+0j5uNQo1Oi1uDx9wVpJoIxhxl2/OBG0MBw==','740419f993a63add95430efc67bff11ba866d7ccd721a62b4b30e8f2726acd97');
INSERT INTO "checkpoints" VALUES(4,'ea6c6c72f0769d1a5dcaedb8601aa0ef76e723095ac3f6437df71b4523bd6a3c','2026-12-05T12:13:28.046134Z','a6f3ac55aec2a8bb','ed25519:P0hUZ7UH7clEGN5/M9SKAI95CcvRwsL4zEzKFkdNR9o=','nCAuJUV7wSW0ibNhT4Ozq+QTcl7BWGeiTj3qip3RvPWyJLeexNBH73cDz27DbZRmEmYSKu9wlmC36egNezXoDQ==','deb91b9328fed38dddffb06da3aa141d99b8214afa885fcced2a278ed1de73d9');
CREATE TABLE labels (
    name    TEXT NOT NULL,
    label   TEXT NOT NULL,
    version INTEGER NOT NULL,
    set_at  TEXT NOT NULL,
    set_by  TEXT NOT NULL,
    PRIMARY KEY (name, label),
    FOREIGN KEY (name, version) REFERENCES versions (name, version)
);
CREATE TABLE pack_exports (
    pack_name    TEXT NOT NULL,
    pack_version INTEGER NOT NULL,
    created_at   TEXT NOT NULL,
    PRIMARY KEY (pack_name, pack_version)
);
INSERT INTO "pack_exports" VALUES('before',1,'2026-12-05T12:13:28.200998Z');
CREATE TABLE pack_imports (
    pack_name       TEXT NOT NULL,
    pack_version    INTEGER NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    source          TEXT NOT NULL,
    imported_at     TEXT NOT NULL,
    PRIMARY KEY (pack_name, pack_version)
);
CREATE TABLE schema_migrations (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, applied_at TEXT NOT NULL);
INSERT INTO "schema_migrations" VALUES(1,'initial_schema','2026-12-05T12:13:27.560741Z');
INSERT INTO "schema_migrations" VALUES(2,'governance','2026-12-05T12:13:27.565737Z');
INSERT INTO "schema_migrations" VALUES(3,'packs','2026-12-05T12:13:27.566475Z');
INSERT INTO "schema_migrations" VALUES(4,'tokens','2026-12-05T12:13:27.566981Z');
INSERT INTO "schema_migrations" VALUES(5,'refuse_truncate','2026-12-05T12:13:27.567416Z');
INSERT INTO "schema_migrations" VALUES(6,'checkpoints','2026-12-05T12:13:27.567877Z');
CREATE TABLE tokens (
    id         TEXT PRIMARY KEY,
    principal  TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    admin      INTEGER NOT NULL DEFAULT 0 CHECK (admin IN (0, 1)),
    read_only  INTEGER NOT NULL DEFAULT 0 CHECK (read_only IN (0, 1)),
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE tools (
    name       TEXT PRIMARY KEY,
    owner      TEXT NOT NULL,
    lifecycle  TEXT NOT NULL DEFAULT 'active'
               CHECK (lifecycle IN ('active', 'deprecated', 'retired')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
, lifecycle_message TEXT);
INSERT INTO "tools" VALUES('prune','root','active','2026-12-05T12:13:27.742292Z','2026-12-05T12:13:27.892852Z',NULL);
INSERT INTO "tools" VALUES('plain','root','active','2026-12-05T12:13:28.033888Z','2026-12-05T12:13:28.033888Z',NULL);
CREATE TABLE trusted_keys (
    name       TEXT PRIMARY KEY,
    key_id     TEXT NOT NULL UNIQUE,
    public_key TEXT NOT NULL,
    added_at   TEXT NOT NULL
);
INSERT INTO "trusted_keys" VALUES('release','cae17b9e38aac59b','ed25519:9UnWajlXDkcV6l9VDOw6DzzGP5vvSV2Ft1ouxVObK60=','2026-12-05T12:13:27.590340Z');
CREATE TABLE versions (
    name             TEXT NOT NULL REFERENCES tools(name),
    version          INTEGER NOT NULL CHECK (version >= 1),
    sha256           TEXT NOT NULL REFERENCES blobs(sha256),
    size             INTEGER NOT NULL,
    executable       INTEGER NOT NULL CHECK (executable IN (0, 1)),
    previous_version INTEGER,
    previous_sha256  TEXT,
    created_at       TEXT NOT NULL,
    recorded_at      TEXT NOT NULL,
    created_by       TEXT,
    owner            TEXT,
    origin           TEXT,
    session_id       TEXT,
    prompt           TEXT,
    message          TEXT,
    refs             TEXT NOT NULL DEFAULT '[]',
    transforms       TEXT NOT NULL DEFAULT '[]',
    rollback_of      INTEGER,
    signature        TEXT,
    key_id           TEXT,
    PRIMARY KEY (name, version)
) WITHOUT ROWID;
INSERT INTO "versions" VALUES('plain',1,'7191b8340566fbd5a61b11626dfe35a7537d523043a9856178e7bbe63fe33272',74,1,NULL,NULL,'2026-12-05T12:13:28.033888Z','2026-12-05T12:13:28.033888Z','root','root','/tmp/oldsrc/prune.sh',NULL,NULL,NULL,'[]','[]',NULL,NULL,NULL);
INSERT INTO "versions" VALUES('prune',1,'36803a17e2e24bd44e8a5c7cca3c3066e58dbbaba25ec403fd4c69b306383012',77,1,NULL,NULL,'2026-12-05T12:13:27.742292Z','2026-12-05T12:13:27.742292Z','root','root','/tmp/oldsrc/prune.sh',NULL,'prune branches','first','[]','[]',NULL,'O5K62Q0tYpK1uR76PSlXRPGVwiRvs8PxRSW9YOj6Iz+RVU9b4xo3mBZX3B/UczMRdFeudvCBVZ+VpLbJA2gsBg==','cae17b9e38aac59b');
INSERT INTO "versions" VALUES('prune',2,'7191b8340566fbd5a61b11626dfe35a7537d523043a9856178e7bbe63fe33272',74,1,1,'36803a17e2e24bd44e8a5c7cca3c3066e58dbbaba25ec403fd4c69b306383012','2026-12-05T12:13:27.892852Z','2026-12-05T12:13:27.892852Z','root','root','/tmp/oldsrc/prune.sh',NULL,NULL,NULL,'[]','[]',NULL,'ltDKOyCDXJvU7AdoN34R5xbvjDUjFuAl9w6BqBr0++F6ymSFlYtq02/Gq8ubEqagxF9cYfSXMzC717V8W/FvAw==','cae17b9e38aac59b');
CREATE TABLE yanks (
    name    TEXT NOT NULL,
    version INTEGER NOT NULL,
    reason  TEXT NOT NULL,
    at      TEXT NOT NULL,
    actor   TEXT NOT NULL,
    PRIMARY KEY (name, version),
    FOREIGN KEY (name, version) REFERENCES versions (name, version)
);
CREATE INDEX versions_by_sha ON versions (name, sha256);
CREATE TRIGGER versions_immutable_update BEFORE UPDATE ON versions
BEGIN SELECT RAISE(ABORT, 'toolvault: versions are immutable'); END;
CREATE TRIGGER versions_immutable_delete BEFORE DELETE ON versions
BEGIN SELECT RAISE(ABORT, 'toolvault: versions are immutable'); END;
CREATE TRIGGER blobs_immutable_update BEFORE UPDATE ON blobs
BEGIN SELECT RAISE(ABORT, 'toolvault: blobs are immutable'); END;
CREATE TRIGGER blobs_immutable_delete BEFORE DELETE ON blobs
BEGIN SELECT RAISE(ABORT, 'toolvault: blobs are immutable'); END;
CREATE INDEX audit_by_tool ON audit (tool, seq);
CREATE TRIGGER audit_immutable_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'toolvault: the audit log is append-only'); END;
CREATE TRIGGER audit_immutable_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'toolvault: the audit log is append-only'); END;
CREATE TRIGGER yanks_immutable_update BEFORE UPDATE ON yanks
BEGIN SELECT RAISE(ABORT, 'toolvault: yanks are permanent'); END;
CREATE TRIGGER yanks_immutable_delete BEFORE DELETE ON yanks
BEGIN SELECT RAISE(ABORT, 'toolvault: yanks are permanent'); END;
CREATE TRIGGER checkpoints_immutable_update BEFORE UPDATE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'toolvault: checkpoints are append-only'); END;
CREATE TRIGGER checkpoints_immutable_delete BEFORE DELETE ON checkpoints
BEGIN SELECT RAISE(ABORT, 'toolvault: checkpoints are append-only'); END;
COMMIT;
