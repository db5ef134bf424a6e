"""The GitHub edge: App auth and installation tokens, error classification, write spacing, and the
typed operations the pipeline needs. Everything Autofix does on GitHub goes through here."""
