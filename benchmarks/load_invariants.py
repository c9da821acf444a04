"""What the load generator checks in the handoff store once the load is over: every customer
message in exactly one transcript, once, in order; one handoff for each customer who asked for a
person and none for the others."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa

SETTLE_SECONDS = 120.0  # the event source and the intake relay catch up after the load
POLL_SECONDS = 1.0

LINES = sa.text(
    "SELECT c.conversation_id, m.text FROM messages m"
    " JOIN conversations c ON c.id = m.conversation_id"
    " WHERE m.author_type = 'customer' AND c.conversation_id IN :ids"
    # the transcript's order, as the API and the console show it (the lines' own times); `seq`
    # is arrival order, which two Rasa servers publishing to the broker may swap
    " ORDER BY c.conversation_id, m.created_at, m.id"
).bindparams(sa.bindparam("ids", expanding=True))
INTAKES = sa.text(
    "SELECT c.conversation_id, count(*) FROM assignments a"
    " JOIN conversations c ON c.id = a.conversation_id"
    " WHERE a.action = 'intake' AND c.conversation_id IN :ids GROUP BY c.conversation_id"
).bindparams(sa.bindparam("ids", expanding=True))


@dataclass
class Findings:
    conversations: int = 0
    messages: int = 0
    handoffs_expected: int = 0
    missing: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    out_of_order: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)  # a line the customer was told failed
    handoffs_lost: list[str] = field(default_factory=list)
    handoffs_duplicated: list[str] = field(default_factory=list)
    settled_after: float = 0.0
    sent: dict[str, list[str]] = field(default_factory=dict)
    stored: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not (
            self.missing
            or self.duplicated
            or self.out_of_order
            or self.unexpected
            or self.handoffs_lost
            or self.handoffs_duplicated
        )

    def report(self) -> str:
        head = (
            f"invariants over {self.conversations} conversations, {self.messages} customer"
            f" messages, {self.handoffs_expected} handoffs expected (store settled after"
            f" {self.settled_after:.1f} s): "
        )
        if self.ok:
            return head + "ok (each message once, in order; each handoff once)"
        problems = {
            "messages missing in": self.missing,
            "messages duplicated in": self.duplicated,
            "out of order in": self.out_of_order,
            "lines whose webhook did not answer 200 stored in": self.unexpected,
            "handoff lost for": self.handoffs_lost,
            "handoff duplicated for": self.handoffs_duplicated,
        }
        return head + "".join(
            f"\n  {what} {len(ids)} conversations, e.g. {ids[0]}:\n"
            f"    sent   {self.sent[ids[0]]}\n    stored {self.stored[ids[0]]}"
            for what, ids in problems.items()
            if ids
        )


def check(
    store_url: str, sent: dict[str, list[str]], handoffs: Iterable[str], settle: float
) -> Findings:
    """Compare the store with what was sent; waits up to `settle` seconds for it to catch up."""
    wanted = set(handoffs)
    engine = sa.create_engine(store_url)
    started = time.monotonic()
    try:
        while True:
            findings = _compare(engine, sent, wanted)
            findings.settled_after = time.monotonic() - started
            if findings.ok or findings.settled_after > settle:
                return findings
            time.sleep(POLL_SECONDS)
    finally:
        engine.dispose()


def _compare(engine: sa.engine.Engine, sent: dict[str, list[str]], wanted: set[str]) -> Findings:
    ids = list(sent)
    stored: dict[str, list[str]] = {conversation: [] for conversation in ids}
    with engine.connect() as connection:
        for conversation, text in connection.execute(LINES, {"ids": ids}):
            stored[conversation].append(text)
        intakes = dict(connection.execute(INTAKES, {"ids": ids}).all())
    findings = Findings(len(ids), sum(map(len, sent.values())), len(wanted), sent=sent)
    findings.stored = stored
    for conversation, texts in sent.items():
        lines = stored[conversation]
        have, expected = Counter(lines), Counter(texts)
        if any(have[text] < count for text, count in expected.items()):
            findings.missing.append(conversation)
        elif any(have[text] > count for text, count in expected.items()):
            findings.duplicated.append(conversation)
        elif len(lines) > len(texts):
            findings.unexpected.append(conversation)
        elif lines != texts:
            findings.out_of_order.append(conversation)
        count = intakes.get(conversation, 0)
        if conversation in wanted and count == 0:
            findings.handoffs_lost.append(conversation)
        elif count > (conversation in wanted):
            findings.handoffs_duplicated.append(conversation)
    return findings
