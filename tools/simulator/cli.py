"""`python -m tools.simulator`: talk to the bot as a WhatsApp or Messenger customer.

- ``serve``: the Graph API stand-in the connectors send to (GRAPH_API_URL), recording to JSONL.
- ``whatsapp TEXT`` / ``messenger TEXT``: a real webhook body, signed with the app secret as
  Meta signs it, posted to Rasa; then the replies the stand-in recorded for that customer.
- ``watch``: replies as they are recorded (agent lines arrive whenever the agent writes).
- ``verify CHANNEL``: Meta's webhook verification handshake.

Secrets come from the environment, else from var/secrets.env (where `make run` keeps them).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp

from connectors.common.signature import sign_meta_payload
from tools.simulator import payloads
from tools.simulator.graph_api import GraphApiStandIn
from tools.simulator.outbox import end_of, read_records, sent_message

DEFAULT_PORT = 5077
DEFAULT_OUTBOX = Path("var/simulator-outbox.jsonl")
DEFAULT_SECRETS_FILE = Path("var/secrets.env")
DEFAULT_RASA_URL = "http://127.0.0.1:5005"
POLL_SECONDS = 0.1
APP_SECRET_ENV = {"whatsapp": "WHATSAPP_APP_SECRET", "messenger": "MESSENGER_APP_SECRET"}
VERIFY_TOKEN_ENV = {"whatsapp": "WHATSAPP_VERIFY_TOKEN", "messenger": "MESSENGER_VERIFY_TOKEN"}
ACCESS_TOKEN_ENVS = ("WHATSAPP_ACCESS_TOKEN", "MESSENGER_PAGE_ACCESS_TOKEN")


class MissingSetting(Exception):
    """A secret the command needs is neither in the environment nor in the secrets file."""


class Settings:
    """Environment variables first, then `NAME=value` lines of the secrets file."""

    def __init__(self, env: Mapping[str, str], secrets_file: Path) -> None:
        self.env = env
        self.secrets_file = secrets_file

    def get(self, name: str) -> str | None:
        return self.env.get(name) or self._from_file().get(name)

    def require(self, name: str) -> str:
        value = self.get(name)
        if not value:
            raise MissingSetting(
                f"{name} is not set: export it, or start the product once with `make run`, "
                f"which keeps it in {self.secrets_file}."
            )
        return value

    def _from_file(self) -> dict[str, str]:
        if not self.secrets_file.is_file():
            return {}
        values = {}
        for line in self.secrets_file.read_text(encoding="utf-8").splitlines():
            name, sep, value = line.strip().partition("=")
            if sep and not name.startswith("#"):
                values[name.strip()] = value.strip()
        return values


def build_stand_in(env: Mapping[str, str], record_path: Path | None) -> GraphApiStandIn:
    """The stand-in `serve` runs: it accepts the configured access tokens, or any if none is,
    and serves a generated picture for any media id a simulated customer sent."""
    tokens = [env[name] for name in ACCESS_TOKEN_ENVS if env.get(name)]
    return GraphApiStandIn(
        access_token=tokens[0] if tokens else None,
        other_access_tokens=tokens[1:],
        record_path=record_path,
        placeholder_media=True,
    )


# --- commands ----------------------------------------------------------------------------------


async def serve(args: argparse.Namespace, settings: Settings) -> int:
    stand_in = build_stand_in(settings.env, args.record)
    await stand_in.start(args.host, args.port)
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopped.set)
    tokens = "the configured access tokens" if stand_in.access_token else "any access token"
    print(f"Graph API stand-in on {stand_in.url} (accepts {tokens}).")
    print(f"  Point the connectors at it: GRAPH_API_URL={stand_in.url}/v21.0")
    if args.record:
        print(f"  Recording every send request to {args.record}")
    print("  Stop with Ctrl-C.", flush=True)
    try:
        await stopped.wait()
    finally:
        await stand_in.stop()
    return 0


async def send_whatsapp(args: argparse.Namespace, settings: Settings) -> int:
    customer = payloads.WhatsAppCustomer(
        wa_id=args.sender,
        name=args.name or None,
        phone_number_id=settings.get("WHATSAPP_PHONE_NUMBER_ID")
        or payloads.DEFAULT_PHONE_NUMBER_ID,
    )
    if args.button:
        payload = payloads.whatsapp_button_reply(customer, args.button, args.text or args.button)
    elif args.list_row:
        payload = payloads.whatsapp_list_reply(customer, args.list_row, args.text or args.list_row)
    elif args.image:
        payload = payloads.whatsapp_image(customer, args.image, caption=args.text or None)
    elif args.location:
        latitude, longitude = args.location
        payload = payloads.whatsapp_location(customer, latitude, longitude, name=args.text or None)
    else:
        payload = payloads.whatsapp_text(customer, _required_text(args))
    return await post_and_show("whatsapp", payload, customer.wa_id, args, settings)


async def send_messenger(args: argparse.Namespace, settings: Settings) -> int:
    customer = payloads.MessengerCustomer(psid=args.psid)
    if args.quick_reply:
        payload = payloads.messenger_quick_reply(
            customer, args.quick_reply, args.text or args.quick_reply
        )
    elif args.postback:
        payload = payloads.messenger_postback(customer, args.postback, args.text or args.postback)
    elif args.image:
        payload = payloads.messenger_attachment(customer, "image", args.image)
    else:
        payload = payloads.messenger_text(customer, _required_text(args))
    return await post_and_show("messenger", payload, customer.psid, args, settings)


async def post_and_show(
    channel: str,
    payload: dict[str, Any],
    customer_id: str,
    args: argparse.Namespace,
    settings: Settings,
) -> int:
    """Post the signed webhook, print Rasa's answer, then the replies recorded since the post."""
    secret = settings.require(APP_SECRET_ENV[channel])
    raw = json.dumps(payload).encode()  # the signature covers exactly these bytes
    headers = {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": sign_meta_payload(raw, secret),
    }
    url = f"{args.rasa.rstrip('/')}/webhooks/{channel}/webhook"
    offset = end_of(args.outbox)
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=raw, headers=headers) as answer,
        ):
            status, text = answer.status, await answer.text()
    except aiohttp.ClientError as error:
        print(f"Could not reach {url} ({error}). Is the bot running (`make run`)?")
        return 1
    print(f"POST {url} -> {status} {text.strip()}")
    if status != 200:
        return 1
    shown = await show_replies(args.outbox, offset, channel, customer_id, args.wait, args.quiet)
    if not shown:
        print(
            f"(no reply recorded in {args.outbox} within {args.wait:g} s; later replies: "
            f"python -m tools.simulator watch)"
        )
    return 0


async def show_replies(
    outbox: Path, offset: int, channel: str, customer_id: str, wait: float, quiet: float
) -> int:
    """Print this customer's replies until `wait` seconds passed, or `quiet` seconds passed
    without a new one after the first; returns how many were printed."""
    started = last = time.monotonic()
    shown = 0
    while True:
        records, offset = read_records(outbox, offset)
        for record in records:
            message = sent_message(record)
            if message and message.channel == channel and message.recipient == customer_id:
                print(message.render(), flush=True)
                shown += 1
                last = time.monotonic()
        now = time.monotonic()
        if now - started >= wait or (shown and now - last >= quiet):
            return shown
        await asyncio.sleep(POLL_SECONDS)


async def watch(args: argparse.Namespace, settings: Settings) -> int:
    """Print every recorded reply (optionally of one channel / customer) until Ctrl-C."""
    offset = 0 if args.from_start else end_of(args.outbox)
    print(f"Watching {args.outbox} (Ctrl-C to stop).", flush=True)
    while True:
        records, offset = read_records(args.outbox, offset)
        for record in records:
            message = sent_message(record)
            if message is None or (args.channel and message.channel != args.channel):
                continue
            if args.to and message.recipient != args.to:
                continue
            print(f"[{message.channel} to {message.recipient}]\n{message.render()}", flush=True)
        await asyncio.sleep(POLL_SECONDS)


async def verify(args: argparse.Namespace, settings: Settings) -> int:
    """Meta's subscription check: the webhook must echo the challenge for the right token."""
    token = settings.require(VERIFY_TOKEN_ENV[args.channel])
    challenge = secrets.token_hex(8)
    url = f"{args.rasa.rstrip('/')}/webhooks/{args.channel}/webhook"
    query = {"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": challenge}
    try:
        async with aiohttp.ClientSession() as session, session.get(url, params=query) as answer:
            status, text = answer.status, await answer.text()
    except aiohttp.ClientError as error:
        print(f"Could not reach {url} ({error}). Is the bot running (`make run`)?")
        return 1
    if status == 200 and text == challenge:
        print(f"GET {url} -> 200: verified (the challenge came back).")
        return 0
    print(f"GET {url} -> {status} {text.strip()}: verification failed.")
    return 1


# --- arguments ---------------------------------------------------------------------------------


def _required_text(args: argparse.Namespace) -> str:
    if not args.text:
        raise MissingSetting('Give the customer\'s message, e.g. "hi".')
    return args.text


def _coordinates(value: str) -> tuple[float, float]:
    try:
        latitude, longitude = (float(part) for part in value.split(","))
    except ValueError as error:
        raise argparse.ArgumentTypeError("expected LAT,LON, e.g. 52.52,13.40") from error
    return latitude, longitude


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="python -m tools.simulator",
        description="Try WhatsApp and Messenger conversations locally (docs/channel-simulator.md).",
    )
    root.add_argument(
        "--secrets-file",
        type=Path,
        default=DEFAULT_SECRETS_FILE,
        help="read secrets missing from the environment here (default: %(default)s)",
    )
    commands = root.add_subparsers(dest="command", required=True)

    run = commands.add_parser("serve", help="run the Graph API stand-in until Ctrl-C")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=DEFAULT_PORT)
    run.add_argument("--record", type=Path, default=DEFAULT_OUTBOX, help="JSONL outbox")
    run.set_defaults(handler=serve)

    whatsapp = commands.add_parser("whatsapp", help="send a WhatsApp message to the bot")
    whatsapp.add_argument("text", nargs="?", default="", help="the text (or the tapped title)")
    whatsapp.add_argument("--from", dest="sender", default=payloads.WhatsAppCustomer.wa_id)
    whatsapp.add_argument("--name", default=payloads.WhatsAppCustomer.name)
    kind = whatsapp.add_mutually_exclusive_group()
    kind.add_argument("--button", metavar="ID", help="tap the reply button with this id")
    kind.add_argument("--list-row", metavar="ID", help="pick the list row with this id")
    kind.add_argument("--image", metavar="MEDIA_ID", help="send an image (text = caption)")
    kind.add_argument("--location", type=_coordinates, metavar="LAT,LON", help="share a place")
    _add_exchange_options(whatsapp)
    whatsapp.set_defaults(handler=send_whatsapp)

    messenger = commands.add_parser("messenger", help="send a Messenger message to the bot")
    messenger.add_argument("text", nargs="?", default="", help="the text (or the tapped title)")
    messenger.add_argument("--psid", default=payloads.MessengerCustomer.psid)
    kind = messenger.add_mutually_exclusive_group()
    kind.add_argument("--quick-reply", metavar="PAYLOAD", help="tap the quick reply")
    kind.add_argument("--postback", metavar="PAYLOAD", help="tap a postback button")
    kind.add_argument("--image", metavar="URL", help="send an image attachment")
    _add_exchange_options(messenger)
    messenger.set_defaults(handler=send_messenger)

    tail = commands.add_parser("watch", help="print replies as they are recorded, until Ctrl-C")
    tail.add_argument("--channel", choices=("whatsapp", "messenger"))
    tail.add_argument("--to", metavar="ID", help="only this wa_id / PSID")
    tail.add_argument("--from-start", action="store_true", help="also what was recorded before")
    tail.add_argument("--outbox", type=Path, default=DEFAULT_OUTBOX)
    tail.set_defaults(handler=watch)

    check = commands.add_parser("verify", help="run Meta's webhook verification handshake")
    check.add_argument("channel", choices=("whatsapp", "messenger"))
    check.add_argument("--rasa", default=None, help=f"Rasa's URL (default {DEFAULT_RASA_URL})")
    check.set_defaults(handler=verify)
    return root


def _add_exchange_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--rasa", default=None, help=f"Rasa's URL (default {DEFAULT_RASA_URL})")
    command.add_argument("--wait", type=float, default=5.0, help="seconds to wait for replies")
    command.add_argument(
        "--quiet", type=float, default=1.5, help="stop this many seconds after the last reply"
    )
    command.add_argument("--outbox", type=Path, default=DEFAULT_OUTBOX, help="serve's --record")


async def run(argv: Sequence[str], env: Mapping[str, str] | None = None) -> int:
    """The CLI inside a running event loop (tests call this); returns the exit status."""
    args = parser().parse_args(argv)
    settings = Settings(os.environ if env is None else env, args.secrets_file)
    if getattr(args, "rasa", "") is None:  # a command that talks to Rasa, without --rasa
        args.rasa = settings.env.get("RASA_URL") or DEFAULT_RASA_URL
    try:
        return await args.handler(args, settings)
    except MissingSetting as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return asyncio.run(run(sys.argv[1:] if argv is None else argv))
    except KeyboardInterrupt:  # Ctrl-C in `watch`
        return 0
