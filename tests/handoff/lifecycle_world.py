"""Services of a conversation's life over one store, with the channel and Rasa stood in for:
the lines delivered are recorded (with their tag or template), Rasa can be set down."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import pytest
from sqlalchemy import select

from contracts.delivery import DeliverRequest
from contracts.values import SENT
from handoff.csat import load_policy as load_csat_policy
from handoff.delivery import DeliveryResult
from handoff.models import Assignment, Conversation
from handoff.rasa_client import RasaError
from handoff.reply_templates import load_templates
from handoff.services.auth import Principal
from handoff.services.canned_replies import PLACEHOLDERS
from handoff.services.conversations import ConversationService
from handoff.services.csat import CsatService
from handoff.services.reply_templates import ReplyTemplateService
from handoff.services.sink import EventSink
from handoff.services.threads import ThreadService
from handoff.thread_policy import load_policy
from harness.handoff_data import AgentLogin, user_event
from tests.handoff.queue_setup import Queue, make_queue


@dataclass
class FakeDelivery:
    sent: list[DeliverRequest] = field(default_factory=list)

    async def deliver(self, delivery: DeliverRequest) -> DeliveryResult:
        self.sent.append(delivery)
        return DeliveryResult(SENT, channel_message_id=f"ch-{len(self.sent)}")


@dataclass
class FakeRasa:
    down: bool = False
    resumed: list[str] = field(default_factory=list)
    surveyed: list[str] = field(default_factory=list)

    async def return_to_bot(self, conversation_id: str) -> None:
        if self.down:
            raise RasaError("Rasa could not be reached (test).")
        self.resumed.append(conversation_id)

    async def start_survey(self, conversation_id: str, scale: str, comment: bool) -> None:
        self.surveyed.append(conversation_id)


@dataclass
class World:
    queue: Queue
    delivery: FakeDelivery
    rasa: FakeRasa
    conversations: ConversationService
    threads: ThreadService
    sink: EventSink
    templates: ReplyTemplateService
    csat: CsatService

    async def handled(self, agent: AgentLogin, **intake: object) -> Conversation:
        """A conversation the agent claimed and answered."""
        pk = await self.queue.handoff(**intake)
        principal = as_principal(agent)
        await self.conversations.claim(pk, principal)
        await self.conversations.reply(pk, principal, "Here is how to do it.")
        return await self.queue.row(pk)

    async def resolved(self, agent: AgentLogin, **intake: object) -> Conversation:
        row = await self.handled(agent, **intake)
        await self.conversations.resolve(row.id, as_principal(agent))
        return await self.queue.row(row.id)

    async def customer_writes(self, row: Conversation, text: str, at: datetime) -> None:
        await self.sink.store([user_event(row.conversation_id, text, at.timestamp())])

    async def actions(self, pk: str) -> list[Assignment]:
        async with self.queue.sessions() as session:
            query = select(Assignment).where(Assignment.conversation_id == pk)
            return list(await session.scalars(query.order_by(Assignment.id)))


def as_principal(agent: AgentLogin) -> Principal:
    return Principal(agent.id, agent.name, agent.email, agent.role, ("billing",), "")


@pytest.fixture
def world(sessions) -> World:
    queue = make_queue(sessions)
    delivery, rasa = FakeDelivery(), FakeRasa()
    csat = CsatService(sessions, load_csat_policy())
    conversations = ConversationService(sessions, queue.live, delivery, rasa, csat=csat)  # type: ignore[arg-type]
    threads = ThreadService(sessions, queue.live, load_policy(), conversations, rasa, csat)  # type: ignore[arg-type]
    sink = EventSink(sessions, queue.live, threads)
    templates = ReplyTemplateService(
        sessions, conversations, load_templates(frozenset(PLACEHOLDERS))
    )
    return World(queue, delivery, rasa, conversations, threads, sink, templates, csat)
