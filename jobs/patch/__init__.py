"""The patch engine: from a FailureReport (or an issue) and a read-only checkout to guarded candidate patches.

`context` holds the data that crosses its seams; `localize` ranks code regions without a model; the
model loop proposes candidates; the sandbox (issue 4) proves them.
"""
