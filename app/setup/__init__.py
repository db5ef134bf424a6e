"""First run: register the GitHub App from its manifest, save its credentials, point to installing it."""
