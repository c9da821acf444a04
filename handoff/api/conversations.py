from __future__ import annotations

from sanic import Blueprint, Request, json
from sanic.response import HTTPResponse

from handoff.api.guard import body, requires
from handoff.errors import Invalid
from handoff.roles import Role
from handoff.services.conversations import Transfer
from handoff.services.resync import lines_after
from handoff.services.search import cursor_time, decode_cursor, encode_cursor, parse_limit
from handoff.states import QueueFilter, Status

bp = Blueprint("conversations", url_prefix="/api/v1")
LISTABLE = (Status.QUEUED, Status.ASSIGNED)
QUEUE_PAGE, MAX_QUEUE_PAGE = 200, 500  # conversations per page of the queue


@bp.get("/queue")
@requires(Role.AGENT)
async def queue(request: Request) -> HTTPResponse:
    status = request.args.get("status", Status.QUEUED.value)
    if status not in {s.value for s in LISTABLE}:
        raise Invalid("status must be queued or assigned.")
    mode = request.args.get("mode")
    if mode not in (None, "sync", "async"):
        raise Invalid("mode must be sync or async.")
    where = QueueFilter(Status(status), request.args.get("team"), mode)
    limit = parse_limit(request.args.get("limit"), QUEUE_PAGE, MAX_QUEUE_PAGE)
    after = None
    if cursor := request.args.get("cursor"):
        level, due, queued, conversation_pk = decode_cursor(cursor, 4)
        if not level.isdigit():
            raise Invalid("cursor is not one this service gave.", "invalid_cursor")
        after = (int(level), cursor_time(due), cursor_time(queued), conversation_pk)
    page = await request.app.ctx.conversations.queue(where, limit, after)
    key = page["next"]
    page["next"] = (
        encode_cursor(str(key[0]), *(t.isoformat() for t in key[1:3]), key[3]) if key else None
    )
    return json(page)


@bp.get("/conversations/<conversation_id:str>")
@requires(Role.AGENT)
async def detail(request: Request, conversation_id: str) -> HTTPResponse:
    view = await request.app.ctx.conversations.detail(conversation_id)
    view["customer_activity"] = request.app.ctx.customer_activity.of(view["id"])
    return json(view)


@bp.get("/conversations/<conversation_id:str>/messages")
@requires(Role.AGENT)
async def messages_after(request: Request, conversation_id: str) -> HTTPResponse:
    raw = request.args.get("after_seq", "0")
    if not raw.isdigit() or len(raw) > 18:
        raise Invalid("after_seq must be a whole number of 0 or more.")
    return json(await lines_after(request.app.ctx.sessions, conversation_id, int(raw)))


@bp.post("/conversations/<conversation_id:str>/claim")
@requires(Role.AGENT)
async def claim(request: Request, conversation_id: str) -> HTTPResponse:
    return json(await request.app.ctx.conversations.claim(conversation_id, request.ctx.agent))


@bp.post("/conversations/<conversation_id:str>/messages")
@requires(Role.AGENT)
async def reply(request: Request, conversation_id: str) -> HTTPResponse:
    data = body(request, required=("text",))
    agent = request.ctx.agent
    if await request.app.ctx.presence.in_training(agent.id):  # waits for a supervisor
        pending = await request.app.ctx.approvals.submit(conversation_id, agent, data["text"])
        return json({"pending_reply": pending}, status=202)
    service = request.app.ctx.conversations
    return json(await service.reply(conversation_id, agent, data["text"]), status=201)


@bp.post("/conversations/<conversation_id:str>/notes")
@requires(Role.AGENT)
async def note(request: Request, conversation_id: str) -> HTTPResponse:
    data = body(request, required=("text",))
    service = request.app.ctx.conversations
    return json(
        await service.add_note(conversation_id, request.ctx.agent, data["text"]), status=201
    )


@bp.post("/conversations/<conversation_id:str>/transfer")
@requires(Role.AGENT)
async def transfer(request: Request, conversation_id: str) -> HTTPResponse:
    data = body(request)
    fields = {name: data.get(name) for name in ("agent_id", "team", "note")}
    if not all(value is None or isinstance(value, str) for value in fields.values()):
        raise Invalid("agent_id, team and note must be strings.")
    service = request.app.ctx.conversations
    return json(await service.transfer(conversation_id, request.ctx.agent, Transfer(**fields)))


@bp.post("/conversations/<conversation_id:str>/release")
@requires(Role.AGENT)
async def release(request: Request, conversation_id: str) -> HTTPResponse:
    return json(await request.app.ctx.conversations.release(conversation_id, request.ctx.agent))


@bp.post("/conversations/<conversation_id:str>/resolve")
@requires(Role.AGENT)
async def resolve(request: Request, conversation_id: str) -> HTTPResponse:
    survey = body(request).get("survey", True) if request.body else True
    if not isinstance(survey, bool):
        raise Invalid("survey must be true or false.")
    service = request.app.ctx.conversations
    return json(await service.resolve(conversation_id, request.ctx.agent, survey))


@bp.post("/conversations/<conversation_id:str>/return-to-bot")
@requires(Role.AGENT)
async def return_to_bot(request: Request, conversation_id: str) -> HTTPResponse:
    service = request.app.ctx.conversations
    return json(await service.return_to_bot(conversation_id, request.ctx.agent))


@bp.get("/conversations/search")
@requires(Role.AGENT)
async def search(request: Request) -> HTTPResponse:
    args = {name: request.args.get(name) for name in request.args}
    return json(await request.app.ctx.search.search(args))


@bp.post("/conversations/<conversation_id:str>/mode")
@requires(Role.AGENT)
async def switch_mode(request: Request, conversation_id: str) -> HTTPResponse:
    data = body(request, required=("mode",))
    tell = data.get("tell_customer", True)
    if not isinstance(tell, bool):
        raise Invalid("tell_customer must be true or false.")
    service = request.app.ctx.conversations
    return json(await service.switch_mode(conversation_id, request.ctx.agent, data["mode"], tell))


@bp.post("/conversations/<conversation_id:str>/snooze")
@requires(Role.AGENT)
async def snooze(request: Request, conversation_id: str) -> HTTPResponse:
    data = body(request)
    service = request.app.ctx.snoozes
    return json(
        await service.snooze(
            conversation_id, request.ctx.agent, data.get("until"), data.get("note")
        )
    )


@bp.post("/conversations/<conversation_id:str>/unsnooze")
@requires(Role.AGENT)
async def unsnooze(request: Request, conversation_id: str) -> HTTPResponse:
    return json(await request.app.ctx.snoozes.unsnooze(conversation_id, request.ctx.agent))


@bp.get("/conversations/<conversation_id:str>/reply-template")
@requires(Role.AGENT)
async def reply_template(request: Request, conversation_id: str) -> HTTPResponse:
    service = request.app.ctx.reply_templates
    return json(await service.preview(conversation_id, request.ctx.agent))


@bp.post("/conversations/<conversation_id:str>/reply-template")
@requires(Role.AGENT)
async def send_reply_template(request: Request, conversation_id: str) -> HTTPResponse:
    service = request.app.ctx.reply_templates
    return json(await service.send(conversation_id, request.ctx.agent), status=201)
