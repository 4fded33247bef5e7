"""The clubgraph benchmark: clubgraph and its peers side by side over the sandbox upstreams.

Run it with ``make bench`` or ``python -m bench --help``; see bench/README.md.
"""
