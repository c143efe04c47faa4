"""What the simulated support app sends: categories, system prompts and customer conversations.

The app is the support desk of *Larkspur Outfitters*, an online outdoor-gear shop. Every
call is planned by :func:`plan_call` from ``(seed, index, regressed)`` alone — a pure
function — so a run is reproducible whatever the thread timing.

Categories match the example rubrics (``judge/rubrics``): ``billing`` and ``refund``
(billing-support), ``shipping`` (shipping-support, which checks the reply mentions the
``order_id`` attribute), ``account`` and ``password-reset`` (account-support) and
``classify-intent`` (intent-classifier, which compares the JSON reply with the
``expected_intent`` attribute).

After the regression (see :mod:`judge.demo.traffic`) the mix shifts towards billing
and refunds (a price change confuses customers), conversations get longer and more
verbose, and shipping switches to prompt ``shipping-v8``, a "faster, terse" prompt that
drops the order context — the simulated model then stops answering about the order.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CATEGORIES", "INTENTS", "CategorySpec", "PlannedCall", "category_spec", "plan_call"]


@dataclass(frozen=True)
class CategorySpec:
    """One category the app tags calls with; weights are its share of traffic before/after."""

    name: str
    desk: str
    normal_weight: float
    regressed_weight: float
    prompt_version: str
    regressed_prompt_version: str
    max_tokens: int = 1024


CATEGORIES: tuple[CategorySpec, ...] = (
    CategorySpec("billing", "billing", 0.16, 0.34, "billing-v4", "billing-v4"),
    CategorySpec("refund", "billing", 0.10, 0.22, "billing-v4", "billing-v4"),
    CategorySpec("shipping", "shipping", 0.26, 0.16, "shipping-v7", "shipping-v8"),
    CategorySpec("account", "account", 0.12, 0.07, "account-v3", "account-v3"),
    CategorySpec("password-reset", "account", 0.08, 0.05, "account-v3", "account-v3"),
    CategorySpec("classify-intent", "router", 0.28, 0.16, "router-v2", "router-v2", max_tokens=64),
)
_BY_NAME = {spec.name: spec for spec in CATEGORIES}

INTENTS: tuple[str, ...] = ("billing", "refund", "shipping", "account", "cancel_order", "product_question")
"""The router's labels, in the order its system prompt lists them."""


@dataclass(frozen=True)
class PlannedCall:
    """One call of the app: what it sends and how it tags it.

    ``pii`` lists the personal data written into the customer's messages (for tests: none
    of it may leave the process unredacted). ``regressed`` says whether the call was
    planned after the regression switch.
    """

    index: int
    category: str
    system: str
    messages: list[dict[str, Any]]
    attributes: dict[str, str | int | float | bool]
    max_tokens: int
    regressed: bool
    pii: tuple[str, ...] = field(default=())

    def request_kwargs(self, model: str) -> dict[str, Any]:
        """Keyword arguments for ``client.messages.create``."""
        return {
            "model": model,
            "max_tokens": self.max_tokens,
            "system": self.system,
            "messages": self.messages,
        }


# --- vocabulary ------------------------------------------------------------------------

_FIRST = ("Ana", "Jonas", "Priya", "Tomás", "Mei", "Kwame", "Sofia", "Liam", "Aisha", "Mateo", "Hana", "Oskar")
_LAST = ("Silva", "Becker", "Raman", "Okafor", "Lindqvist", "Moreau", "Nakamura", "Kowalski", "Haddad", "Reyes")
_MAIL_DOMAINS = ("example.com", "example.org", "mail.example.net")
_PHONES = ("+1 415-555-{n:04d}", "(646) 555-{n:04d}", "+44 20 7946 {n:04d}", "415.555.{n:04d}", "07700 90{n:04d}")
_PRODUCTS = (
    "Alpine 2 tent", "Ridgeline 40L backpack", "merino base layer", "Talus trail runners",
    "down sleeping bag", "Cirrus rain shell", "trekking poles", "camp stove kit",
)
_CARRIERS = ("UPS", "DHL Express", "FedEx Ground", "Royal Mail Tracked 48", "USPS Priority")
_STATUSES = (
    ("in transit", "on its way to the regional hub"),
    ("out for delivery", "with the local driver today"),
    ("delayed", "held at the carrier's depot because of weather"),
    ("delivered", "marked as delivered at the front door"),
    ("label created", "waiting to be collected from our warehouse"),
)
_MONTHS = ("March", "April", "May", "June", "September", "October", "November")
_PLANS = ("Larkspur Plus monthly", "Larkspur Plus annual", "no subscription")
_CARDS = ("Visa", "Mastercard", "Amex")

_OPENERS = ("Hi,", "Hello,", "Hi there,", "Good morning,", "Hey,", "")
_SIGN_OFFS = ("Thanks", "Thank you", "Cheers", "Thanks in advance", "Regards")
_DETAILS = (
    "I have been a customer for years and this never happened before.",
    "I already checked the help centre but could not find an answer.",
    "This is the second time I am writing about it.",
    "Honestly I am a bit frustrated at this point.",
    "I need this sorted before the weekend because we are leaving on a trip.",
    "Your website said something different last week.",
    "I tried the chat yesterday but the window closed before anyone answered.",
    "Since the price change last month nothing on my statement makes sense to me.",
    "My partner uses the same account, in case that matters.",
)

# Customer issues per category: (topic, first message template). Fields: {product},
# {amount}, {order_id}, {invoice_id}, {month}, {carrier}.
_ISSUES: dict[str, tuple[tuple[str, str], ...]] = {
    "billing": (
        ("double_charge", "I was charged twice for my {product} order, {amount} shows up two times on my card."),
        ("invoice", "I need a copy of invoice {invoice_id} for my company's expense report."),
        ("renewal", "My Larkspur Plus membership renewed and I was charged {amount}, but I thought I cancelled it."),
        ("failed_payment", "My payment keeps failing at checkout even though the card works everywhere else."),
        ("price", "The charge on my statement is {amount}, higher than the price at checkout. Why?"),
    ),
    "refund": (
        ("refund_status", "I returned the {product} in {month} and I still have not received my refund of {amount}."),
        ("refund_damaged", "The {product} arrived damaged. Can I get a refund instead of a replacement?"),
        ("refund_partial", "I only got a partial refund for my return, {amount} is missing."),
        ("refund_cancelled", "I cancelled my order before it shipped. When will the money be back on my card?"),
    ),
    "shipping": (
        ("where", "Where is my order {order_id}? It should have arrived by now."),
        ("delayed", "My {product} (order {order_id}) is late and the tracking has not moved in days."),
        ("not_received", "Tracking says order {order_id} was delivered but there is nothing at my door."),
        ("damaged", "My parcel for order {order_id} arrived with the box crushed and the {product} broken."),
        ("address", "Can I still change the delivery address for order {order_id}? I am moving this week."),
    ),
    "account": (
        ("locked", "My account got locked after a few sign-in attempts and I cannot get back in."),
        ("two_factor", "I changed phones and now I cannot get the sign-in code for two-step verification."),
        ("change_email", "I want to change the email address on my account to a new one."),
        ("delete", "Please tell me how to close my Larkspur account and remove my data."),
        ("login_loop", "When I log in the page just reloads and sends me back to the sign-in screen."),
    ),
    "password-reset": (
        ("reset_no_mail", "I asked for a password reset three times and the reset email never arrives."),
        ("reset_expired", "The password reset link says it has expired every time I click it."),
        ("reset_forgot", "I forgot my password and the site does not accept my answers to the questions."),
    ),
}

# Router tickets per intent; the simulated model has to recover the label from the words.
_TICKETS: dict[str, tuple[str, ...]] = {
    "billing": (
        "Why was I charged {amount} twice this month?",
        "I need an invoice for my last purchase, the receipt is missing the VAT number.",
        "My card was charged for a membership renewal I did not expect.",
    ),
    "refund": (
        "I sent the {product} back two weeks ago, when do I get my money back?",
        "Still waiting for the refund on my return, it has been ages.",
        "Please refund the {product}, it is not what I ordered.",
    ),
    "shipping": (
        "My parcel has not arrived yet, the tracking is stuck.",
        "When will order {order_id} be delivered? The courier has not updated anything.",
        "The delivery was supposed to be yesterday, where is my package?",
    ),
    "account": (
        "I cannot log in to my account, it keeps saying wrong credentials.",
        "How do I change the email on my profile?",
        "My password reset link does not work and I am locked out.",
    ),
    "cancel_order": (
        "Please cancel my order {order_id}, I ordered the wrong size.",
        "I want to cancel the order I placed this morning before it ships.",
    ),
    "product_question": (
        "Is the {product} waterproof enough for a week in Scotland?",
        "Does the {product} come in a larger size, and what is the weight?",
        "Which of your tents is best for winter camping above the tree line?",
    ),
}

_ASSISTANT_TURNS = (
    "Thanks for getting in touch, I am sorry for the trouble. Could you tell me a little more so I can look into it?",
    "I understand, thank you for the details. Let me check that for you - is there anything else I should know?",
    "Thanks for your patience. Could you confirm which purchase this is about?",
)
_FOLLOW_UPS = (
    "It is the one I mentioned above.",
    "Yes, that is the one. Nothing else has changed.",
    "I already gave you all the details, can you just check please?",
    "The order was placed from the app, if that helps.",
    "I would really appreciate a quick answer.",
)


# --- system prompts ---------------------------------------------------------------------

_PREAMBLE = (
    "You are Wren, the customer support assistant of Larkspur Outfitters, an online shop for "
    "outdoor gear. You work on the {desk} desk."
)
_BILLING = """
Your scope: charges, invoices, payment methods, the Larkspur Plus membership and refunds.

Policy:
- Refunds go back to the original payment method and take 5-7 business days to appear.
- Duplicate charges are reversed automatically within 3 business days; otherwise the billing
  team reverses them by hand.
- Never ask for a full card number, a password or a one-time code.
- Do not promise an amount that the account records below do not support.

Style: warm and professional, under 180 words. Acknowledge the problem, then say what
happens next and when.

Account records:
- Plan: {plan}
- Last invoice: {invoice_id} for {amount} on {day} {month}
- Payment method: {card} ending in {last4}
"""
_SHIPPING = """
Your scope: order status, delivery times, lost, late and damaged parcels, address changes.

Policy:
- Always refer to the customer's order by its order number.
- Late parcels: offer to open a trace with the carrier after 5 business days of no movement.
- Lost or damaged parcels: offer a free replacement or a full refund, the customer's choice.

Style: warm and professional, under 180 words, with the current status and clear next steps.

Order context:
- Order: {order_id} ({product}), placed on {day} {month}
- Carrier: {carrier}
- Tracking number: {tracking}
- Status: {status} ({status_detail})
- Estimated delivery: {eta}
"""
_SHIPPING_TERSE = """
To cut response times, answer in one short sentence. Do not look up order details.
"""
_ACCOUNT = """
Your scope: signing in, password resets, two-step verification, profile and account settings.

Policy:
- Identity is checked only through the email address on file or the app; never ask the
  customer for a password, a full card number or a one-time code.
- Password reset links expire after 30 minutes.
- Locked accounts unlock by themselves after 15 minutes.

Style: friendly, step by step, under 150 words.
"""
_ROUTER = """
Read the customer's message and decide which team should handle it.
Reply with JSON only, exactly {{"intent": "<label>"}}, where <label> is one of: {labels}.
No explanation, no other keys.
"""


def _pick(rng: random.Random, options: tuple[str, ...]) -> str:
    return options[rng.randrange(len(options))]


def _amount(rng: random.Random) -> str:
    return f"${rng.randrange(19, 480)}.{rng.choice(('00', '49', '95', '99'))}"


def _fields(rng: random.Random, index: int) -> dict[str, str]:
    status, detail = _STATUSES[rng.randrange(len(_STATUSES))]
    return {
        "product": _pick(rng, _PRODUCTS),
        "amount": _amount(rng),
        "order_id": f"ORD-{rng.randrange(1_000_000, 9_999_999)}",
        "invoice_id": f"INV-2025-{rng.randrange(10_000, 99_999)}",
        "month": _pick(rng, _MONTHS),
        "day": str(rng.randrange(1, 29)),
        "carrier": _pick(rng, _CARRIERS),
        "tracking": f"LX{rng.randrange(100_000_000, 999_999_999)}GB",
        "status": status,
        "status_detail": detail,
        "eta": f"{rng.randrange(1, 29)} {_pick(rng, _MONTHS)}",
        "plan": _pick(rng, _PLANS),
        "card": _pick(rng, _CARDS),
        "last4": f"{rng.randrange(0, 10_000):04d}",
        "ticket_id": f"TCK-{index + 1:07d}",
    }


def _system(desk: str, fields: dict[str, str], *, terse: bool) -> str:
    head = _PREAMBLE.format(desk=desk)
    if desk == "billing":
        return head + _BILLING.format(**fields)
    if desk == "shipping":
        return head + (_SHIPPING_TERSE if terse else _SHIPPING.format(**fields))
    if desk == "account":
        return head + _ACCOUNT
    return head + _ROUTER.format(labels=", ".join(INTENTS))


def _contact(rng: random.Random) -> tuple[str, list[str]]:
    """A sentence leaving contact details, and the personal data it holds."""
    first, last = _pick(rng, _FIRST), _pick(rng, _LAST)
    email = f"{first.lower().replace('á', 'a')}.{last.lower()}@{_pick(rng, _MAIL_DOMAINS)}"
    phone = _pick(rng, _PHONES).format(n=rng.randrange(100, 10_000))
    kind = rng.randrange(3)
    if kind == 0:
        return f"You can reach me at {email}.", [email]
    if kind == 1:
        return f"My number is {phone} if a call is easier.", [phone]
    return f"Please reply to {email} or call me on {phone}.", [email, phone]


def _customer_message(rng: random.Random, issue: str, *, verbose: bool, pii: list[str]) -> str:
    parts = [_pick(rng, _OPENERS), issue]
    for _ in range(rng.randrange(2, 5) if verbose else rng.randrange(0, 2)):
        parts.append(_pick(rng, _DETAILS))
    if rng.random() < 0.35:
        sentence, found = _contact(rng)
        parts.append(sentence)
        pii.extend(found)
    if rng.random() < 0.6:
        parts.append(f"{_pick(rng, _SIGN_OFFS)}, {_pick(rng, _FIRST)}")
    return " ".join(p for p in parts if p)


def _choose_category(rng: random.Random, regressed: bool) -> CategorySpec:
    weights = [s.regressed_weight if regressed else s.normal_weight for s in CATEGORIES]
    return rng.choices(CATEGORIES, weights=weights)[0]


def plan_call(seed: int, index: int, *, regressed: bool = False) -> PlannedCall:
    """The ``index``-th call of a run seeded with ``seed``; pure and thread-safe.

    Support calls carry a system prompt and 1–4 customer turns (2–4 and wordier when
    ``regressed``) with the assistant's earlier answers in between; router calls carry
    one ticket. Attributes: ``ticket_id``, ``prompt_version``, ``locale``, ``tier``,
    ``channel``, plus ``order_id``/``carrier`` (shipping) and ``expected_intent`` (router).
    """
    rng = random.Random(f"tastevin-demo:{seed}:{index}:{int(regressed)}")
    spec = _choose_category(rng, regressed)
    fields = _fields(rng, index)
    terse = regressed and spec.name == "shipping"
    attributes: dict[str, str | int | float | bool] = {
        "ticket_id": fields["ticket_id"],
        "prompt_version": spec.regressed_prompt_version if regressed else spec.prompt_version,
        "locale": rng.choice(("en-US", "en-GB", "en-IE")),
        "tier": rng.choice(("free", "free", "plus", "pro")),
        "channel": rng.choice(("chat", "chat", "email", "app")),
    }
    pii: list[str] = []
    if spec.name == "classify-intent":
        intent = _pick(rng, INTENTS)
        ticket = _pick(rng, _TICKETS[intent]).format(**fields)
        attributes["expected_intent"] = intent
        messages: list[dict[str, Any]] = [{"role": "user", "content": ticket}]
    else:
        if spec.name == "shipping":
            attributes["order_id"] = fields["order_id"]
            attributes["carrier"] = fields["carrier"]
        _, template = _ISSUES[spec.name][rng.randrange(len(_ISSUES[spec.name]))]
        turns = rng.randrange(2, 5) if regressed else rng.randrange(1, 4)
        messages = [{"role": "user", "content": _customer_message(
            rng, template.format(**fields), verbose=regressed, pii=pii)}]
        for _ in range(turns - 1):
            messages.append({"role": "assistant", "content": _pick(rng, _ASSISTANT_TURNS)})
            follow_up = _customer_message(rng, _pick(rng, _FOLLOW_UPS), verbose=regressed, pii=pii)
            messages.append({"role": "user", "content": follow_up})
    return PlannedCall(
        index=index,
        category=spec.name,
        system=_system(spec.desk, fields, terse=terse),
        messages=messages,
        attributes=attributes,
        max_tokens=spec.max_tokens,
        regressed=regressed,
        pii=tuple(pii),
    )


def category_spec(name: str) -> CategorySpec:
    """The spec of category ``name``; raises KeyError for an unknown one."""
    return _BY_NAME[name]
