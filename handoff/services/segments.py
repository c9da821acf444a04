"""A conversation cut into segments, and the KPI facts of each handoff episode (docs/kpis.md).

Pure: the input is what the store keeps about one conversation (its row, its `assignments`
history, its lines); the output is the segments (who held the conversation when), the bot
contacts (for containment) and one `Episode` per handoff with the agents' work in it. The KPI
refresher (`handoff/services/kpis.py`) stores these as facts; the KPI queries aggregate them.

Every figure is measured from the handoff (never from the bot's first line), only agent lines
count as responses, and time with the bot, snoozed or (async) waiting on the customer is kept
out of the human figures.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

BOT, QUEUED, AGENT, SNOOZED, RESOLVED = "bot", "queued", "agent", "snoozed", "resolved"
WAITING_CUSTOMER = "waiting_customer"  # derived inside agent segments of async conversations
# An episode ends with one of these: resolved by a person, handed back to the bot, or (once
# the state exists) resolved automatically.
END_KINDS = {"resolve": "resolved", "return_to_bot": "returned_to_bot", "auto_resolve": "auto"}
REOPEN_WINDOW = timedelta(days=7)  # a new handoff this soon after a resolution is a reopen
BOT_CONTACT_GAP = timedelta(minutes=60)  # Rasa's default session expiry: a new bot contact
FRUSTRATED = 0.5

# seconds of business time between two instants, for one conversation's queue
OpenSeconds = Callable[[datetime, datetime], float]


@dataclass(frozen=True)
class Change:
    """One `assignments` row: a state change or ownership move."""

    at: datetime
    action: str
    to_agent_id: str | None = None
    by_agent_id: str | None = None
    team: str | None = None


@dataclass(frozen=True)
class Line:
    """One transcript line, as far as the KPIs need it."""

    at: datetime
    author_type: str  # customer | bot | agent | system
    agent_id: str | None = None
    frustration: float | None = None
    delivery_status: str | None = None  # an agent line the channel refused is no response


@dataclass(frozen=True)
class Facts:
    """The conversation row's fields the KPIs slice by."""

    created_at: datetime
    channel: str | None
    topic: str | None
    priority_level: int
    mode: str | None
    queued_at: datetime | None = None


@dataclass
class Segment:
    kind: str
    started_at: datetime
    ended_at: datetime | None = None
    agent_id: str | None = None
    team: str | None = None
    episode: int | None = None  # the episode's seq, None for bot time outside any handoff

    def seconds(self, now: datetime) -> float:
        return ((self.ended_at or now) - self.started_at).total_seconds()


@dataclass
class AgentWork:
    """One agent's part of one episode."""

    agent_id: str
    started_at: datetime
    assigned_seconds: float = 0.0
    handle_seconds: float = 0.0
    replies: int = 0
    answers: int = 0  # replies that answered a waiting customer (TAR counts these)
    tar_seconds: float = 0.0
    response_handle_seconds: float = 0.0
    first_tar_seconds: float | None = None
    resolved: bool = False


@dataclass
class Episode:
    """One handoff: from the intake that queued the conversation to its resolution or return to
    the bot (open while neither happened)."""

    seq: int
    started_at: datetime
    team: str | None
    reopen: bool = False  # queued again after a resolution within REOPEN_WINDOW
    final_team: str | None = None
    ended_at: datetime | None = None
    end_kind: str | None = None
    resolved_by_agent_id: str | None = None
    first_agent_id: str | None = None
    first_assigned_at: datetime | None = None
    first_response_at: datetime | None = None
    first_response_seconds: float | None = None
    first_response_business_seconds: float | None = None
    wait_seconds: float = 0.0
    queued_seconds: float = 0.0
    assigned_seconds: float = 0.0
    handle_seconds: float = 0.0
    waiting_customer_seconds: float = 0.0
    snoozed_seconds: float = 0.0
    resolution_seconds: float | None = None
    resolution_business_seconds: float | None = None
    agent_replies: int = 0
    transfers: int = 0
    reopened: bool = False  # another handoff followed within REOPEN_WINDOW of the resolution
    # (customer waiting since, agent answered at) for every answer after the first response
    next_responses: list[tuple[datetime, datetime]] = field(default_factory=list)
    # intervals the SLA clock stops: snoozed, and (async) waiting on the customer
    paused: list[tuple[datetime, datetime]] = field(default_factory=list)
    frustration_start: float | None = None
    frustration_end: float | None = None
    waiting_since: datetime | None = None  # the customer's oldest unanswered line (or handoff)
    agents: dict[str, AgentWork] = field(default_factory=dict)

    @property
    def abandoned(self) -> bool:
        """Ended without any agent reply (sync: abandonment; async: closed without response)."""
        return self.end_kind is not None and self.agent_replies == 0

    @property
    def first_contact_resolution(self) -> bool:
        return self.end_kind == "resolved" and self.agent_replies > 0 and not self.reopened


@dataclass(frozen=True)
class BotContact:
    """Customer activity while the bot held the conversation, split at gaps of
    BOT_CONTACT_GAP; `handed_off` when it ended with a handoff."""

    started_at: datetime
    handed_off: bool


@dataclass
class Breakdown:
    segments: list[Segment]
    episodes: list[Episode]
    bot_contacts: list[BotContact]


def segment(
    facts: Facts,
    changes: Sequence[Change],
    lines: Sequence[Line],
    now: datetime,
    open_seconds: OpenSeconds | None = None,
) -> Breakdown:
    """Cut one conversation into segments and episodes (docs/kpis.md, "Segments")."""
    # the transcript an intake brings can predate the row (the bot's part came first)
    began = min([facts.created_at, *(line.at for line in lines[:1])])
    timeline = _Timeline(began, now)
    intakes = [i for i, change in enumerate(changes) if change.action == "intake"]
    for index, change in enumerate(changes):
        at = change.at
        if index == (intakes[-1] if intakes else -1) and facts.queued_at is not None:
            at = min(at, facts.queued_at)  # the customer waited from the bot's request
        timeline.apply(change, at)
    breakdown = Breakdown(timeline.segments, timeline.episodes, [])
    for episode in breakdown.episodes:
        _measure(episode, breakdown.segments, lines, facts, now, open_seconds)
    for earlier, later in zip(breakdown.episodes, breakdown.episodes[1:], strict=False):
        earlier.reopened = later.reopen
    breakdown.bot_contacts = _bot_contacts(breakdown.segments, lines)
    return breakdown


class _Timeline:
    """Replays the history; each change closes the current segment and opens the next."""

    def __init__(self, began: datetime, now: datetime) -> None:
        self.segments = [Segment(BOT, began)]
        self.episodes: list[Episode] = []
        self.now = now

    @property
    def current(self) -> Segment:
        return self.segments[-1]

    @property
    def episode(self) -> Episode | None:
        last = self.episodes[-1] if self.episodes else None
        return last if last is not None and last.end_kind is None else None

    def open(self, kind: str, at: datetime, agent_id: str | None = None) -> None:
        previous = self.current
        previous.ended_at = max(at, previous.started_at)
        episode = self.episode
        team = episode.final_team if episode else None
        seq = episode.seq if episode and kind not in (BOT, RESOLVED) else None
        self.segments.append(Segment(kind, previous.ended_at, None, agent_id, team, seq))

    def apply(self, change: Change, at: datetime) -> None:
        action, episode = change.action, self.episode
        if action in ("intake", "reopen"):
            if episode is not None:
                return  # already with people: an update of the queue entry
            last = self.episodes[-1] if self.episodes else None
            # the customer reopening (within the topic's window) is one by definition; a new
            # handoff soon after a resolution counts as one too
            reopen = action == "reopen" or (
                last is not None
                and last.end_kind == "resolved"
                and last.ended_at is not None
                and at - last.ended_at <= REOPEN_WINDOW
            )
            self.episodes.append(
                Episode(len(self.episodes) + 1, at, change.team, reopen, change.team)
            )
            if change.to_agent_id:  # reopened straight to its last agent
                self.open(AGENT, at, change.to_agent_id)
            else:
                self.open(QUEUED, at)
            return
        if action == "new_with_bot":  # after the reopen window: the bot's again
            self.open(BOT, at)
            return
        if episode is None:
            return  # a change outside a handoff (not produced by today's state machine)
        if action in ("claim", "transfer_agent"):
            if action == "transfer_agent" and self.current.kind == AGENT:
                episode.transfers += 1
            self.open(AGENT, at, change.to_agent_id)
        elif action == "transfer_team":
            episode.transfers += 1
            episode.final_team = change.team or episode.final_team
            self.open(QUEUED, at)
        elif action == "release":
            self.open(QUEUED, at)
        elif action == "snooze":
            self.open(SNOOZED, at, self.current.agent_id)
        elif action in ("unsnooze", "snooze_ended"):  # by hand, at its time, by a reply
            self.open(AGENT if self.current.agent_id else QUEUED, at, self.current.agent_id)
        elif action in END_KINDS:
            if action == "resolve" and self.current.kind == AGENT:
                episode.resolved_by_agent_id = self.current.agent_id
            self.open(BOT if action == "return_to_bot" else RESOLVED, at)
            episode.ended_at, episode.end_kind = at, END_KINDS[action]


def _measure(
    episode: Episode,
    segments: Sequence[Segment],
    lines: Sequence[Line],
    facts: Facts,
    now: datetime,
    open_seconds: OpenSeconds | None,
) -> None:
    own = [s for s in segments if s.episode == episode.seq]
    end = episode.ended_at or now
    inside = [line for line in lines if episode.started_at <= line.at < end]
    for piece in own:
        seconds = piece.seconds(now)
        if piece.kind == QUEUED:
            episode.queued_seconds += seconds
        elif piece.kind == SNOOZED:
            episode.snoozed_seconds += seconds
        elif piece.kind == AGENT:
            episode.assigned_seconds += seconds
            if episode.first_assigned_at is None:
                episode.first_assigned_at, episode.first_agent_id = piece.started_at, piece.agent_id
            work = episode.agents.setdefault(
                piece.agent_id or "", AgentWork(piece.agent_id or "", piece.started_at)
            )
            work.assigned_seconds += seconds
    episode.wait_seconds = ((episode.first_assigned_at or end) - episode.started_at).total_seconds()
    _replies(episode, own, inside, facts.mode == "async", now)
    if episode.resolved_by_agent_id in episode.agents:
        episode.agents[episode.resolved_by_agent_id].resolved = True
    if episode.first_response_at is not None:
        episode.first_response_seconds = _seconds(episode.started_at, episode.first_response_at)
        if open_seconds is not None:
            episode.first_response_business_seconds = open_seconds(
                episode.started_at, episode.first_response_at
            )
    if episode.ended_at is not None:
        episode.resolution_seconds = _seconds(episode.started_at, episode.ended_at)
        if open_seconds is not None:
            episode.resolution_business_seconds = open_seconds(episode.started_at, episode.ended_at)
    readings = [line for line in lines if line.author_type == "customer" and line.frustration]
    before = [line.frustration for line in readings if line.at <= episode.started_at]
    during = [line.frustration for line in readings if episode.started_at <= line.at < end]
    episode.frustration_start = before[-1] if before else (during[0] if during else None)
    episode.frustration_end = during[-1] if during else episode.frustration_start


def _replies(
    episode: Episode,
    own: Sequence[Segment],
    inside: Sequence[Line],
    is_async: bool,
    now: datetime,
) -> None:
    """Walk the episode's lines: response times and the agents' answers; in async mode also the
    time waiting on the customer (from an agent's reply to the customer's next line, inside
    agent segments), which handle times leave out."""
    waiting_since: datetime | None = episode.started_at  # the customer waits from the handoff
    answered_at: datetime | None = None
    waits: list[tuple[datetime, datetime]] = []
    for line in inside:
        if line.author_type == "customer":
            if waiting_since is None:
                waiting_since = line.at
            if answered_at is not None:
                waits.append((answered_at, line.at))
            answered_at = None
        elif line.author_type == "agent" and line.delivery_status != "failed":
            _reply(episode, own, line, waiting_since)
            waiting_since, answered_at = None, line.at
    if answered_at is not None:
        waits.append((answered_at, episode.ended_at or now))
    episode.waiting_since = waiting_since
    for work in episode.agents.values():
        work.handle_seconds = work.assigned_seconds
    episode.paused = [(s.started_at, s.ended_at or now) for s in own if s.kind == SNOOZED]
    if is_async:
        for piece in own:
            if piece.kind != AGENT:
                continue
            for start, stop in waits:  # only while an agent holds it: not queued or snoozed
                clipped = (max(piece.started_at, start), min(piece.ended_at or now, stop))
                waited = _seconds(*clipped)
                if waited > 0:
                    episode.paused.append(clipped)
                    episode.waiting_customer_seconds += waited
                    episode.agents[piece.agent_id or ""].handle_seconds -= waited
        episode.paused.sort()
    episode.handle_seconds = episode.assigned_seconds - episode.waiting_customer_seconds


def _reply(
    episode: Episode, own: Sequence[Segment], line: Line, waiting_since: datetime | None
) -> None:
    episode.agent_replies += 1
    holder = next(
        (
            s
            for s in reversed(own)
            if s.kind == AGENT and s.started_at <= line.at and s.agent_id == line.agent_id
        ),
        None,
    )
    key = line.agent_id or ""
    work = episode.agents.setdefault(key, AgentWork(key, holder.started_at if holder else line.at))
    work.replies += 1
    if episode.first_response_at is None:
        episode.first_response_at = line.at
    elif waiting_since is not None:
        episode.next_responses.append((waiting_since, line.at))
    if waiting_since is None:
        return  # a follow-up line: nobody was waiting for it
    tar = _seconds(waiting_since, line.at)
    took_over = max(waiting_since, holder.started_at) if holder else waiting_since
    work.answers += 1
    work.tar_seconds += tar
    work.response_handle_seconds += _seconds(took_over, line.at)
    if work.first_tar_seconds is None:
        work.first_tar_seconds = tar


def _bot_contacts(segments: Sequence[Segment], lines: Sequence[Line]) -> list[BotContact]:
    contacts: list[BotContact] = []
    customer = [line.at for line in lines if line.author_type == "customer"]
    for index, piece in enumerate(segments):
        if piece.kind not in (BOT, RESOLVED):
            continue
        times = [
            at
            for at in customer
            if piece.started_at <= at and (piece.ended_at is None or at < piece.ended_at)
        ]
        starts = [t for i, t in enumerate(times) if i == 0 or t - times[i - 1] > BOT_CONTACT_GAP]
        handed_off = index + 1 < len(segments) and segments[index + 1].kind == QUEUED
        contacts.extend(
            BotContact(start, handed_off and i == len(starts) - 1) for i, start in enumerate(starts)
        )
    return contacts


def _seconds(start: datetime, stop: datetime) -> float:
    return (stop - start).total_seconds()
