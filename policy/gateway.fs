# policy/gateway.fs — what mpay-gateway may open once its listening socket is
# open (Landlock). Never the token directory, the PIN file or the audit log.
# One rule a line: <read|write|readwrite|create> <path>   # why
read   /etc                          # resolver configuration, TLS trust store, PostgreSQL client settings
read   /usr                          # libraries loaded on demand (name service, GSSAPI for libpq), certificates
create ${dir:gateway.db_url}         # SQLite: the database and its -wal, -shm and -journal files (no rule for PostgreSQL)
create ${dir:gateway.outbox}         # development notifier: the JSON-lines outbox
