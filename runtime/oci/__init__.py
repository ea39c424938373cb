"""Pure data: the OCI config model, validation, container state and status rules."""
