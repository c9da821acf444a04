"""What the customers and agents of the demo history say (`demo_history.py`), per triage topic,
so that suggested responses have a team history to learn from on a first start. Written for this
project; `{ref}` is the conversation's made-up order or account reference."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dialogue:
    customer: tuple[str, ...]
    agent: tuple[str, ...]


DIALOGUES: dict[str, tuple[Dialogue, ...]] = {
    "billing": (
        Dialogue(
            (
                "I was charged twice for {ref}",
                "there are two identical payments on my card statement",
                "ok thanks, when will I see the money?",
            ),
            (
                "I can see both payments for {ref}; I've refunded the second one.",
                "The refund shows on your statement within 3 to 5 working days.",
                "You're welcome. Is there anything else I can help with today?",
            ),
        ),
        Dialogue(
            (
                "my invoice for {ref} is higher than the price on your website",
                "I paid 89 but the shop said 79",
                "great, please send the corrected invoice",
            ),
            (
                "The discount for {ref} was not applied; I've credited the difference.",
                "A corrected invoice is on its way to your email address now.",
                "Thanks for your patience. Anything else I can do for you?",
            ),
        ),
        Dialogue(
            (
                "you charged me for a subscription I cancelled last month",
                "I cancelled the Lumen Care plan in the app",
                "fine, thank you",
            ),
            (
                "Sorry about that: the cancellation did not go through. I've stopped the plan.",
                "I've also refunded this month's charge for the Lumen Care plan.",
                "You're welcome. Is there anything else I can help with today?",
            ),
        ),
    ),
    "order": (
        Dialogue(
            (
                "where is my order {ref}? it was due on Monday",
                "the tracking page has not changed for four days",
                "ok, please let me know",
            ),
            (
                "{ref} is held at the courier's depot; I've asked them to deliver it tomorrow.",
                "If it has not arrived by tomorrow evening, we'll send a replacement at no cost.",
                "I'll keep an eye on it. Anything else I can help with?",
            ),
        ),
        Dialogue(
            (
                "the Glow Bulb in order {ref} arrived broken",
                "the glass is cracked and it rattles",
                "thanks, that is quick",
            ),
            (
                "I'm sorry it arrived damaged. A replacement for {ref} is on its way today.",
                "There's no need to send the broken bulb back; please recycle it safely.",
                "You're welcome. Is there anything else I can help with today?",
            ),
        ),
        Dialogue(
            (
                "I want to return the motion sensor from order {ref}",
                "it does not fit the door frame",
                "perfect",
            ),
            (
                "No problem: I've emailed you a free return label for {ref}.",
                "Once the sensor is back with us, the refund takes 3 to 5 working days.",
                "Thanks. Anything else I can do for you?",
            ),
        ),
    ),
    "technical": (
        Dialogue(
            (
                "my Lumen Hub keeps going offline",
                "the light on the hub is blinking orange",
                "it is steady blue now, thanks",
            ),
            (
                "Let's get the hub back online: unplug it for 30 seconds, then plug it back in.",
                "Blinking orange means it lost the Wi-Fi; is the router on the 2.4 GHz band?",
                "Great, it's back online. Anything else I can help with?",
            ),
        ),
        Dialogue(
            (
                "the app does not find my new Glow Bulb",
                "I tried three times, pairing fails",
                "found it, thank you",
            ),
            (
                "Switch the bulb off and on five times in a row; it blinks when ready to pair.",
                "Then open the app, choose Add device and keep the phone close to the bulb.",
                "Glad it worked. Is there anything else I can help with today?",
            ),
        ),
        Dialogue(
            (
                "the thermostat shows the wrong temperature",
                "it says 25 degrees but the room is cold",
                "ok I will try that",
            ),
            (
                "It may need calibrating: open its settings in the app and choose Calibrate.",
                "Also make sure it is not above a radiator or in direct sunlight.",
                "If it is still wrong tomorrow, write to us and we'll replace it.",
            ),
        ),
    ),
    "account": (
        Dialogue(
            (
                "I can't log in to the app",
                "it says my password is wrong but I'm sure it is right",
                "got the email, thanks",
            ),
            (
                "I've sent a password reset link to the email address on your account.",
                "The link is valid for one hour; please check your spam folder if it's not there.",
                "You're welcome. Anything else I can help with?",
            ),
        ),
        Dialogue(
            (
                "I want to change the email address on my account {ref}",
                "my old address does not exist any more",
                "done, thank you",
            ),
            (
                "I can change it. I've sent a confirmation code to the phone number on file.",
                "Thanks, the new email address is saved on {ref}.",
                "You're welcome. Is there anything else I can help with today?",
            ),
        ),
    ),
    "complaint": (
        Dialogue(
            (
                "this is the third time I have to contact you about the same problem",
                "nobody called me back as promised",
                "ok, I hope so",
            ),
            (
                "I'm sorry we let you down. I'm taking this on myself and will see it through.",
                "I've noted everything in your case, so you will not have to explain it again.",
                "I'll write to you tomorrow by noon with an update, whatever the news.",
            ),
        ),
        Dialogue(
            (
                "your delivery driver left the parcel in the rain",
                "the box was soaked and the manual ruined",
                "thank you",
            ),
            (
                "I'm sorry, that should not happen. I've reported it to the courier.",
                "I've also added a 10% voucher to your account for the trouble.",
                "Thanks for telling us. Anything else I can help with?",
            ),
        ),
    ),
}
