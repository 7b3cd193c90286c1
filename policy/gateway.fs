# policy/gateway.fs — what mpay-gateway may open once its listening socket is
# open (Landlock). Its configuration, TLS key, webhook secret, console token
# and outbound CA file (gateway.outbound_ca_file) are read
# before; after, nothing in /etc/mpay but its PostgreSQL password file, not
# the token directory, the PIN files or the audit log: Landlock refuses them
# whatever their file modes.
# One rule a line: <read|write|readwrite|create> <path>   # why
# A fixed path this machine lacks gets no rule (nothing there to open). A
# file replaced after start (a new inode) is not covered: restart the gateway
# after changing the resolver configuration (docs/operations.md).
read   /etc/hosts                    # glibc's resolver: local names (acquirer, webhook, PostgreSQL host)
read   /etc/resolv.conf              # glibc's resolver: name servers
read   /etc/nsswitch.conf            # glibc's resolver: which sources to ask
read   /etc/host.conf                # glibc's resolver: its options
read   /etc/gai.conf                 # glibc's getaddrinfo: address ordering
read   /etc/ld.so.cache              # glibc loads name-service modules on demand (nsswitch.conf names them)
read   /etc/localtime                # glibc's time zone, read at the first local time
read   /etc/ssl/certs                # OpenSSL: the trust store for the acquirer's and the webhook's TLS
read   /etc/ssl/openssl.cnf          # OpenSSL reads its configuration when a TLS context is made
read   /usr                          # glibc and libpq load libraries on demand (name service, GSSAPI)
read   ${gateway.db_passfile}         # libpq reads PostgreSQL's password file (passfile= in gateway.db_url) at every new connection
read   ${signer.checkpoint_file}      # the signer's latest signed audit checkpoint, published as mpay_audit_checkpoint_sequence
create ${dir:gateway.db_url}         # SQLite: the database and its -wal, -shm and -journal files (no rule for PostgreSQL)
create ${dir:gateway.outbox}         # development notifier: the JSON-lines outbox
