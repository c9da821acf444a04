"""The template an agent sends when the channel's window is closed (handoff/reply_templates.yml):
previewed with the conversation's values filled in, then sent as the agent's line through the
normal reply path (`ConversationService.reply` with the template)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from contracts.delivery import Template
from handoff import views
from handoff.errors import NotFound
from handoff.models import Conversation
from handoff.reply_templates import ReplyTemplate
from handoff.services.auth import Principal
from handoff.services.canned_replies import PLACEHOLDERS
from handoff.services.conversations import ConversationService
from handoff.services.views import load_row


class ReplyTemplateService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        conversations: ConversationService,
        templates: Mapping[str, ReplyTemplate],
    ) -> None:
        self.sessions = sessions
        self.conversations = conversations
        self.templates = templates

    async def preview(self, conversation_pk: str, agent: Principal) -> views.JSON:
        template, text = await self._filled(conversation_pk, agent)
        return {
            "name": template.name,
            "language": template.language,
            "parameters": list(template.parameters),
            "text": text,
        }

    async def send(self, conversation_pk: str, agent: Principal) -> views.JSON:
        template, text = await self._filled(conversation_pk, agent)
        return await self.conversations.reply(conversation_pk, agent, text, template=template)

    async def _filled(self, conversation_pk: str, agent: Principal) -> tuple[Template, str]:
        async with self.sessions() as session:
            row = await load_row(session, conversation_pk)
        configured = self.templates.get(row.channel or "")
        if configured is None:
            raise NotFound(
                f"No template is configured for {row.channel or 'this channel'}.", "no_template"
            )
        return configured.fill(lambda name: _value(row, agent, name))


def _value(row: Conversation, agent: Principal, name: str) -> str | None:
    return PLACEHOLDERS[name](row, agent)
