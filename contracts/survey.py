"""The satisfaction survey's answer as a channel template's quick-reply button carries it.

Outside a channel's window the handoff service sends the survey as an approved template; it sets
each button's payload (`contracts.delivery.Template.buttons`) to `answer_payload(score)`, Rasa's
`/intent{"entity": value}` message syntax, so a tap reaches the bot as the intent
`ANSWER_INTENT` with the score in the entity `SCORE_ENTITY` whatever the NLU model makes of it.
The bot (bot/domain/csat.yml, data/rules/csat.yml, actions/csat.py) reads it as the score.
"""

from __future__ import annotations

import json

ANSWER_INTENT = "csat_answer"
SCORE_ENTITY = "csat_score"


def answer_payload(score: int) -> str:
    """What a tap on the button for `score` sends, e.g. `/csat_answer{"csat_score":4}`."""
    return f"/{ANSWER_INTENT}" + json.dumps({SCORE_ENTITY: score}, separators=(",", ":"))
