"""Look at the handoff outbox and send set-aside requests again.

    python -m actions.clients.outbox_cli list [--status failed]   # key, status, attempts, error
    python -m actions.clients.outbox_cli requeue KEY              # a failed request goes again

The file is HANDOFF_OUTBOX_PATH (default var/handoff-outbox.sqlite3). A requeued request keeps
its Idempotency-Key, so it can never create a second handoff; the running action server's relay
picks it up on its next pass (at the latest when the next handoff is enqueued or it restarts).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from actions.clients.handoff_intake import EntryStatus, HandoffSettings, outbox_for


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m actions.clients.outbox_cli")
    commands = root.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="entries, oldest first")
    listing.add_argument("--status", choices=[status.value for status in EntryStatus])
    requeue = commands.add_parser("requeue", help="send a failed entry again, with its key")
    requeue.add_argument("key")
    return root


async def run(args: argparse.Namespace) -> int:
    outbox = outbox_for(HandoffSettings.from_env().outbox_path)
    if args.command == "requeue":
        if await outbox.requeue(args.key):
            print(f"{args.key} requeued")
            return 0
        print(f"error: no failed entry {args.key}", file=sys.stderr)
        return 1
    for entry in await outbox.entries():
        if args.status is None or entry.status.value == args.status:
            conversation = entry.body.get("conversation_id")
            reason = f"  {entry.last_error}" if entry.last_error else ""
            print(
                f"{entry.key}  {entry.status.value:<9} {entry.attempts:>3}  {conversation}{reason}"
            )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return asyncio.run(run(parser().parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
