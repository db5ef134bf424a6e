"""The reliability and security checklist (docs/RELIABILITY.md): one module per section, one test per case."""
