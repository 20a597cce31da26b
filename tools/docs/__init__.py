"""Documentation generated from the code: `make docs` writes it, `make docs-check` fails when it is stale."""
