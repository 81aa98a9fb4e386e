"""Tools agents can call: a sandbox for Python (`sandbox`), safe arithmetic (`calculator`),
the registry of named tools (`registry`) and the text protocol for calling them (`protocol`)."""
