"""The action server: rasa_sdk's app plus the relay that delivers queued handoffs.

Run `python -m actions.server [--port 5055]`. rasa_sdk imports every module of `actions`
(this one included), so everything here happens inside functions.
"""

from __future__ import annotations

import argparse
import logging
import os

from rasa_sdk.endpoint import create_app as create_action_app
from rasa_sdk.plugin import plugin_manager
from sanic import Sanic

from actions.clients.handoff_intake import HandoffClient, HandoffSettings, OutboxRelay, outbox_for
from customer_texts import load_texts_cached

DEFAULT_PORT = 5055


def create_app() -> Sanic:
    """rasa_sdk's action app; the outbox relay runs while the server does."""
    app = create_action_app("actions")
    plugin_manager().hook.attach_sanic_app_extensions(app=app)

    @app.listener("after_server_start")
    async def start_relay(app: Sanic, _loop: object) -> None:
        settings = HandoffSettings.from_env()
        app.ctx.handoff_relay = OutboxRelay(
            outbox_for(settings.outbox_path), HandoffClient(settings)
        )
        app.ctx.handoff_relay.start()

    @app.listener("before_server_stop")
    async def stop_relay(app: Sanic, _loop: object) -> None:
        await app.ctx.handoff_relay.stop()

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the Lumen Home action server.")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--host", default=os.environ.get("SANIC_HOST", "127.0.0.1"))
    args = parser.parse_args(argv)
    load_texts_cached()  # a mistake in the customer texts stops the start, not a conversation
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # One worker: the relay is the only sender of this process's outbox file.
    create_app().run(host=args.host, port=args.port, workers=1, access_log=False)


if __name__ == "__main__":
    main()
