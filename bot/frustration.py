"""Frustration and confusion scoring of customer messages.

Pure functions, no Rasa import: the NLU component (`bot.components.frustration_detector`) scores
each message with `score_message`, and the escalation policy adds the conversation-level signals
of `score_conversation` (the same message repeated, fallbacks in a row), which one message alone
cannot show.

Each signal has a weight in 0..1; weights combine like independent pieces of evidence
(noisy-or: 1 - prod(1 - w)), so one strong signal counts a lot, several weak ones add up, and the
score never leaves 0..1. Excited praise ("LOVE IT!!!") is not frustration: shouting, repeated
punctuation and mild profanity are ignored when the message is positive and nothing negative.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# Signal name -> weight. One clear signal (0.5) marks a message as frustrated; escalation
# thresholds live in bot/config.yml. Weights are calibrated on tests/fixtures/frustration/.
WEIGHTS: dict[str, float] = {
    "profanity": 0.55,
    "insult": 0.55,
    "negative_wording": 0.5,
    "repeated_contact": 0.5,
    "long_wait": 0.5,
    "threat_to_leave": 0.5,
    "bot_not_helping": 0.5,
    "manager_demand": 0.5,
    "firm_demand": 0.5,
    "distress": 0.5,
    "confusion": 0.3,
    "sarcasm": 0.5,
    "shouting": 0.5,
    "emphasis": 0.2,
    "repeated_punctuation": 0.3,
    "heavy_punctuation": 0.5,
    "negative_emoji": 0.5,
    "repeated_message": 0.5,
    "fallbacks_in_a_row": 0.4,
}


def _words(*phrases: str) -> re.Pattern[str]:
    """A case-insensitive pattern matching any phrase on word boundaries."""
    return re.compile(r"\b(?:" + "|".join(phrases) + r")\b", re.IGNORECASE)


_NUMBER = r"(?:\d+|two|three|four|five|six|seven|eight|nine|ten|several|many|multiple)"
_DURATION = r"(?:minutes?|mins|hours?|hrs|days?|weeks?|months?|ages|forever)"
_PATTERNS: dict[str, re.Pattern[str]] = {
    "profanity": _words(
        r"f+u+c+k\w*",
        r"f\*+k\w*",
        r"sh[i1]t\w*",
        r"bull\s?sh[i1]t",
        r"crap\w*",
        r"wtf",
        r"ffs",
        r"omfg",
        r"damn\w*",
        r"bloody",
        r"piss\w*",
        r"bs",
        r"arse\w*",
        r"ass(?:hole)?s?",
        r"bastard\w*",
        r"screw(?:ed)? (?:you|this|up)",
        r"hell",
        r"smh",
    ),
    "insult": _words(
        r"useless",
        r"stupid",
        r"idiot\w*",
        r"pathetic",
        r"incompetent",
        r"rubbish",
        r"garbage",
        r"trash",
        r"scam\w*",
        r"ridiculous",
        r"rediculous",
        r"disgrace\w*",
        r"shambles",
        r"a joke",
        r"clowns?",
        r"morons?",
        r"dumb",
        r"worthless",
        r"con artists?",
        r"thieves",
        r"daylight robbery",
        r"paperweight",
        r"a mess",
        r"amateur\w*",
        r"cowboys?",
    ),
    "negative_wording": _words(
        r"angry",
        r"furious",
        r"frustrat\w*",
        r"annoy\w*",
        r"fed[- ]up",
        r"sick (?:and tired )?of",
        r"tired of",
        r"(?:un|not |not remotely )acceptable",
        r"disappoint\w*",
        r"terrible",
        r"awful",
        r"worst",
        r"horrible",
        r"horrendous",
        r"disgust\w*",
        r"had enough",
        r"hate",
        r"appalling",
        r"outrag\w*",
        r"livid",
        r"fuming",
        r"nightmare",
        r"unbelievable",
        r"beyond (?:a )?joke",
        r"enough is enough",
        r"last straw",
        r"(?:wits'?|rope|tether) end",
        r"end of my (?:rope|tether)",
        r"lost my patience",
        r"no excuse",
        r"never again",
        r"not happy",
        r"(?:very|really|so) unhappy",
        r"not good enough",
        r"losing my mind",
        r"give up",
        r"i'?m done",
        r"ruin(?:ed|ing)",
        r"wast(?:ed|ing|e of)",
        r"in tears",
        r"driving me (?:mad|crazy|insane|nuts|up the wall)",
        r"can'?t (?:deal|cope|take) (?:with )?(?:this|it|any ?more)",
        r"lost a customer",
        r"expected (?:much |a lot |far )?better",
        r"what(?:'s| is) the point",
        r"regret\w*",
        r"without (?:my )?permission",
        r"nobody (?:will|wants to) help",
        r"gone on long enough",
        r"how hard can it be",
        r"shocking",
        r"upset",
        r"kidding me",
        r"how is this so hard",
        r"what is going on",
        r"nothing (?:\w+ )?works",
        r"at all",
        r"you people",
        r"even test",
    ),
    "repeated_contact": _words(
        rf"(?:second|third|fourth|fifth|2nd|3rd|4th|5th|{_NUMBER}(?:th|rd|nd)?) "
        r"(?:time|replacement|call|chat|email|ticket)s?",
        rf"{_NUMBER} times",
        r"(?:sent|told|asked|given|said)(?: it| you)? twice",
        r"(?:once|yet) again",
        r"already (?:told|said|explained|gave|given|sent|provided|asked|contacted|called|"
        r"tried|done)",
        r"how many (?:more )?times",
        r"as i (?:said|mentioned|explained)",
        r"i (?:literally |just |already )*said",
        r"scroll up",
        r"read my (?:previous |last |first )?(?:message|question)s?",
        r"explain\w* (?:this|it|everything) (?:again|from scratch)",
        r"from scratch",
        r"(?:keep|keeps|kept) (?:asking|telling|saying|getting|happening|crashing|dropping|"
        r"going|breaking|failing|charging)",
        r"over and over",
        r"again and again",
        r"every (?:single )?(?:time|night|day|week|update|one)",
        r"still (?:not|no|hasn'?t|haven'?t|doesn'?t|isn'?t|waiting|broken|nothing|the same)",
        r"same (?:problem|issue|thing|answer|fault|result|fix|error|question)",
        r"exact same",
        r"(?:nobody|no one|no-one) (?:has )?(?:fixed|helped|replied|answered|"
        r"got back|called|does anything)",
        r"repeat(?:ing)? myself",
        r"(?:was|were) (?:promised|told)",
        r"ticket (?:number )?#?\d",
    ),
    "long_wait": _words(
        rf"waiting (?:for |since )?(?:over |more than |almost |nearly )?"
        rf"(?:an? |{_NUMBER} )?{_DURATION}",
        rf"{_NUMBER} {_DURATION} (?:and|now|later|on hold|waiting|ago)",
        rf"(?:it'?s|it has) been (?:over |more than )?(?:an? |{_NUMBER} )?{_DURATION}",
        r"day \d+",
        r"since (?:\d|monday|tuesday|wednesday|thursday|friday|saturday|sunday|"
        r"the \d)",
        r"on hold",
        r"no (?:reply|response|answer|update|call)s?",
        r"never (?:got|heard|received) (?:back|a reply|a response|an answer|anything)",
        r"(?:heard|received) nothing",
        r"not a single (?:reply|response|word)",
        r"ignor(?:ed|ing) (?:me|my)",
        r"taking (?:so|too) long",
        r"how long (?:do|does|will|must) (?:i|it)",
        r"any(?:one|body) (?:there|home|alive)",
        r"is any(?:one|body) (?:actually |even )?going to",
        r"hel+o+\?+",
        r"in this queue",
        r"answer me today",
    ),
    "threat_to_leave": _words(
        r"cancel\w* (?:my (?:subscription|account|plan|contract)|everything|all)",
        r"switch\w* to",
        r"going with",
        r"(?:going to|gonna|i'?ll|i will|i'?m) (?:leave|leaving|switch|cancel|report|sue|post|"
        r"contacting|dispute|disputing|be disputing|be leaving)",
        r"(?:bad|1[- ]star|one[- ]star|negative|terrible) review",
        r"review on",
        r"trading standards",
        r"ombudsman",
        r"lawyers?",
        r"solicitor",
        r"legal action",
        r"chargeback",
        r"disput\w+",
        r"report (?:you|this)",
        r"small claims",
        r"social media",
        r"twitter",
        r"trustpilot",
        r"tiktok",
        r"facebook group",
        r"warn(?:ing)? (?:people|others|everyone)",
        r"never (?:buy|buying|recommend|again)",
        r"done with",
        r"last chance",
        r"take my business",
        r"return (?:all|every|everything)",
        r"refund me",
        r"(?:everyone|people) (?:will )?hear about",
    ),
    "bot_not_helping": _words(
        r"(?:stupid|useless|dumb|pointless|annoying) (?:bot|robot|machine|chatbot|ai)",
        r"(?:you'?re|you are|ur|are you) (?:even )?(?:not )?"
        r"(?:listening|helping|reading|understanding)",
        r"not (?:listening|helping|helpful|what i (?:asked|said|meant|need))",
        r"(?:doesn'?t|does not|didn'?t) (?:help|answer)",
        r"talking to a (?:brick )?wall",
        r"stop (?:sending|giving|saying|asking|telling)",
        r"copy[- ]?paste\w*",
        r"(?:select|pick|choose) a (?:topic|option)",
        r"(?:those|these|your) (?:options|menus)",
        r"menus",
        r"do you (?:even )?understand",
        r"wrong again",
        r"i said \w+ not",
        r"actually do something",
        r"going (?:round|around) in circles",
        r"no help",
    ),
    "manager_demand": _words(
        r"manager",
        r"supervisor",
        r"someone (?:senior|in charge|competent)",
        r"escalat\w*",
        r"formal(?:ly)? (?:complaint|complain|request\w*)",
        r"head of",
        r"ceo",
        r"someone who (?:actually )?knows",
        r"who is in charge",
    ),
    "firm_demand": _words(
        r"i (?:expect|demand|insist)",
        r"i want (?:this|it) (?:resolved|fixed|sorted)",
        r"(?:resolved|fixed|sorted) (?:today|now|immediately|this week)",
        r"fix it",
        r"i want (?:every penny|my money|a refund|a full refund)",
        r"(?:firm|exact) date",
        r"in writing",
        r"written explanation",
        r"consumer rights",
        r"i will not",
        r"(?:do not|don'?t) (?:want|tell me)",
        r"arrange a (?:return|replacement|refund)",
        r"those are the options",
        r"explain this",
        r"or not",
    ),
    "distress": _words(
        r"urgent\w*",
        r"emergency",
        r"please hurry",
        r"hurry",
        r"asap",
        r"stuck (?:outside|inside)",
        r"locked (?:me )?out",
        r"freezing",
        r"newborn",
        r"baby",
        r"elderly",
        r"no heating",
        r"without heating",
        r"unsafe",
        r"scared",
        r"panic\w*",
        r"by itself",
        r"right now",
    ),
    "confusion": _words(
        r"(?:don'?t|do not|dont) (?:understand|get it|get what|know what)",
        r"makes? no sense",
        r"confus\w*",
        r"what (?:do you|does that|does this) (?:even )?mean",
        r"even mean",
        r"no idea what",
        r"what are you (?:even )?(?:talking|on)",
        r"i'?m lost",
        r"which is it",
        r"huh",
        r"so complicated",
        r"the opposite",
    ),
    "sarcasm": re.compile(
        r"\b(?:great|fantastic|brilliant|wonderful|perfect|lovely|amazing|awesome|thanks a lot|"
        r"thanks so much|well done|good job|great job|nice one|cheers|super|so glad|oh good|"
        r"cool cool|real smart|nice to know|love)\b[^.?!]{0,60}"
        r"\b(?:again|another|third|fourth|still|never|broke|breaks|broken|logs? me out|worse|"
        r"crash\w*|useless|nothing|offline|charged|twice|locked me out|lose|lost|beeping|"
        r"can'?t|only works|no reason|nobody|waiting|copy paste|paperweight|rebooted)\b"
        r"|\b(?:thanks for nothing|yeah right|oh (?:great|wonderful|perfect|brilliant)|"
        r"just (?:great|perfect|brilliant|wonderful)|what a (?:joke|surprise)|surprise surprise|"
        r"love that for me|money well spent|exactly what i wanted|really helpful'?|"
        r"clearly (?:you|nobody))"
        r"|\b(?:doesn'?t exist|404|broken|offline|charged)\b[^?!]{0,40}"
        r"\b(?:brilliant|great|perfect|"
        r"fantastic|lovely)\b"
        r"|[\U0001f643\U0001f44f]",
        re.IGNORECASE,
    ),
}

_POSITIVE = _words(
    r"love\w*",
    r"great",
    r"brilliant",
    r"amazing",
    r"awesome",
    r"excellent",
    r"best",
    r"fantastic",
    r"thanks?",
    r"thank you",
    r"perfect",
    r"wonderful",
    r"good",
    r"happy",
    r"delighted",
    r"impressed",
    r"works?",
    r"working",
    r"nice",
    r"cool",
    r"superb",
    r"lovely",
    r"recommend",
    r"solved",
    r"fixed",
    r"insane",
    r"hell yeah",
    r"yes+",
    r"wow",
)
# Negated or hedged emotion ("not angry", "a bit annoying", "nothing urgent") is no signal.
_NEGATED_EMOTION = _words(
    r"not (?:angry|annoyed|frustrated|upset|mad|complaining|urgent)",
    r"(?:no|nothing|not) (?:rush|hurry|urgent)",
    r"not a complaint",
    r"(?:no|not a) problem",
    r"not in a hurry",
    r"(?:a )?(?:bit|slightly|little|tiny bit|somewhat) (?:annoy|disappoint|confus|frustrat)\w*",
)
_NEGATED_SIGNALS = frozenset({"negative_wording", "distress", "confusion"})
_AGAIN_SHOUTED = re.compile(r"\bAGAIN\b")  # "again" alone is ordinary ("please try again")
_QUOTED = re.compile("\"[^\"]*\"|'[^']{3,}'|\u201c[^\u201d]*\u201d|\u2018[^\u2019]*\u2019")
_NEGATIVE_EMOJI = re.compile(
    "[\U0001f620\U0001f621\U0001f624\U0001f92c\U0001f44e\U0001f644\U0001f612\U0001f62d"
    "\U0001f629\U0001f62b\U0001f926\U0001f4a9]"
)
_HEAVY_PUNCTUATION = re.compile(r"[!?]{3,}")
_REPEATED_PUNCTUATION = re.compile(r"[!?]{2}|\?!|!\?")
_CAPS_WORD = re.compile(r"\b[A-Z][A-Z']+\b")
_ANY_WORD = re.compile(r"\b[A-Za-z][A-Za-z']+\b")
_MIN_EMPHASIS_LETTERS = 4  # a lone short capital word is usually a code ("ERR", "LCD")
# Words customers write in capitals without shouting: product names, acronyms, codes.
_ACRONYMS = frozenset(
    {
        "LED",
        "HUB",
        "APP",
        "PIN",
        "SMS",
        "WIFI",
        "USB",
        "FAQ",
        "DST",
        "GPS",
        "UPS",
        "DHL",
        "DPD",
        "IOS",
        "MAC",
        "ACC",
        "NFC",
        "RED",
        "GMT",
        "BST",
        "UTC",
        "API",
        "PDF",
        "VAT",
        "LUMEN",
        "HDMI",
        "CCTV",
        "SSID",
        "DNS",
        "IP",
        "ISP",
        "OTP",
        "ASAP",
        "TV",
        "OK",
        "LCD",
        "ERR",
        "UK",
        "US",
        "EU",
    }
)
# Signals that excited praise shows too; they only count when the message is not positive.
_AMBIGUOUS_WHEN_POSITIVE = frozenset(
    {"shouting", "emphasis", "repeated_punctuation", "heavy_punctuation", "profanity"}
)


@dataclass(frozen=True)
class FrustrationResult:
    """A score in 0..1 and the names of the signals that raised it, strongest first."""

    score: float
    signals: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {"score": self.score, "signals": list(self.signals)}


def combine(signals: Iterable[str], weights: dict[str, float] | None = None) -> FrustrationResult:
    """Noisy-or of the signal weights, rounded to 3 decimals."""
    weights = WEIGHTS if weights is None else weights
    unique = sorted(set(signals), key=lambda name: (-weights[name], name))
    remaining = 1.0
    for name in unique:
        remaining *= 1.0 - weights[name]
    return FrustrationResult(score=round(1.0 - remaining, 3), signals=tuple(unique))


def _capital_signals(text: str) -> set[str]:
    """Shouting (mostly capitals) or emphasis (a capital word), ignoring quotes and acronyms."""
    unquoted = _QUOTED.sub(" ", text)
    shouted = [w for w in _CAPS_WORD.findall(unquoted) if w not in _ACRONYMS]
    if len(shouted) >= 2 and len(shouted) >= 0.4 * len(_ANY_WORD.findall(unquoted)):
        return {"shouting"}
    if any(len(w) >= _MIN_EMPHASIS_LETTERS for w in shouted):
        return {"emphasis"}
    return set()


def message_signals(text: str) -> set[str]:
    """The frustration signals one message shows on its own."""
    found = {name for name, pattern in _PATTERNS.items() if pattern.search(text)}
    found |= _capital_signals(text)
    if _AGAIN_SHOUTED.search(text):
        found.add("repeated_contact")
    if _HEAVY_PUNCTUATION.search(text):
        found.add("heavy_punctuation")
    elif _REPEATED_PUNCTUATION.search(text):
        found.add("repeated_punctuation")
    if _NEGATIVE_EMOJI.search(text):
        found.add("negative_emoji")
    if _NEGATED_EMOTION.search(text):
        found -= _NEGATED_SIGNALS
    if not found - _AMBIGUOUS_WHEN_POSITIVE and _POSITIVE.search(text):
        found -= _AMBIGUOUS_WHEN_POSITIVE
    return found


def score_message(text: str, weights: dict[str, float] | None = None) -> FrustrationResult:
    """Score one customer message."""
    return combine(message_signals(text or ""), weights)


def _normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def conversation_signals(
    previous_texts: Sequence[str], text: str, fallbacks_in_a_row: int, max_fallbacks: int
) -> set[str]:
    """Signals only the conversation shows: a repeated message, fallbacks piling up."""
    found: set[str] = set()
    current = _normalise(text)
    if current and len(current) > 3 and any(_normalise(p) == current for p in previous_texts):
        found.add("repeated_message")
    if max_fallbacks > 0 and fallbacks_in_a_row >= max_fallbacks:
        found.add("fallbacks_in_a_row")
    return found


def score_conversation(
    message: FrustrationResult,
    previous_texts: Sequence[str],
    text: str,
    fallbacks_in_a_row: int,
    max_fallbacks: int,
    weights: dict[str, float] | None = None,
) -> FrustrationResult:
    """Combine a message's own signals with what the conversation around it shows."""
    extra = conversation_signals(previous_texts, text, fallbacks_in_a_row, max_fallbacks)
    return combine(set(message.signals) | extra, weights)
