"""`/autofix` commands in the worker: who may run them, what they answer, and what they do."""
