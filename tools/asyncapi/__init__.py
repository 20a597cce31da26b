"""The AsyncAPI document of the platform: generated from the code, never hand-edited.

`python -m tools.asyncapi.generate` (or `make asyncapi`) writes `asyncapi.yaml`;
`validate.mjs` checks it with the official AsyncAPI parser.
"""
