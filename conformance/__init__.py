"""OCI runtime-spec conformance checks that drive any runtime binary through its CLI.

Run ``python3 -m conformance --runtime PATH [--runtime PATH ...]``; see docs/conformance.md.
"""
