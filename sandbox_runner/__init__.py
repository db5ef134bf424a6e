"""The program that runs inside a sandbox, and the pure parsers both sides use. Standard library only.

Empty until the sandbox issue (4) and the failure-evidence issue (3) land; it exists now so that the
package boundary (and its import rule: nothing outside the standard library) is in place from the start.
"""
