# policy/signer.fs — what a signer worker may open after start-up (Landlock).
# Files already open before the rules apply stay usable: the PKCS#11 module,
# the listening socket, the audit log opened for appending, the signer's
# state file (signer.state_file, mapped before the workers fork). Nothing
# else can be opened: not the PIN file, not the config, not the gateway's
# database.
# One rule a line: <read|write|readwrite|create> <path>   # why
readwrite ${hsm.token_dir}         # SoftHSM2 reads its token files on every operation and locks them
read      ${hsm.softhsm2_conf}     # SoftHSM2 reads its config again when the module is re-initialised
read      ${signer.audit_log}      # audit_head and audit_tail read the last records (appends use the open descriptor)
