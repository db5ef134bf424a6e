"""Autofix's worker side: arq job functions and the fix pipeline they run."""
