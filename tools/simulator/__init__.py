"""Channel simulator: Meta-signed webhooks in, a recording Graph API stand-in out (developer tool).

`python -m tools.simulator --help`; see docs/channel-simulator.md.
"""
