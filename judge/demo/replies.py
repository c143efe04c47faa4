"""What the simulated model answers: support replies and router labels, read off the request.

Like a real model, it sees only the request: the system prompt says which desk it works
on (``You work on the shipping desk``) and carries the context (the order, the account
records); the customer's messages say what the problem is. :func:`compose_reply` is pure
given its random generator, so a reply is reproducible from the request alone.

Normal replies pass the example rubrics' rule checks: 200–1200 characters, no personal
data, no refusal opener, no request for a password, and shipping replies name the order.
A *flawed* reply (a small share, like a real model's slips) fails one check: a billing
reply rambles past 1500 characters, an account reply asks for the password, a shipping
reply forgets the order number, the router picks a wrong label or wraps its JSON in a
code fence. Under the terse ``shipping-v8`` prompt (the regression) shipping replies are
one short generic sentence or a refusal, and fail the shipping rubric.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

__all__ = ["ReplyKind", "classify", "compose_reply", "request_text"]

ReplyKind = Literal["ok", "flawed", "regressed"]

_DESK = re.compile(r"You work on the (\w+) desk")
_TERSE = re.compile(r"answer in one short sentence", re.IGNORECASE)
_LABELS = re.compile(r"one of: ([a-z_, ]+)\.")
_ORDER = re.compile(r"Order: (ORD-\d+) \((.+?)\)")
_CARRIER = re.compile(r"Carrier: (.+)")
_TRACKING = re.compile(r"Tracking number: (\S+)")
_STATUS = re.compile(r"Status: (.+?) \((.+)\)")
_ETA = re.compile(r"Estimated delivery: (.+)")
_INVOICE = re.compile(r"Last invoice: (\S+) for (\S+)")
_ORDER_ID = re.compile(r"\bORD-\d+\b")


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        return "\n".join(b.get("text", "") for b in content if isinstance(b, Mapping) and b.get("type") == "text")
    return ""


def request_text(body: Mapping[str, Any]) -> tuple[str, list[str]]:
    """The system prompt and the text of each message of a Messages request body."""
    messages = body.get("messages") or []
    return _text(body.get("system")), [_text(m.get("content")) for m in messages if isinstance(m, Mapping)]


def _customer_text(body: Mapping[str, Any]) -> str:
    messages = body.get("messages") or ()
    return " ".join(_text(m.get("content")) for m in messages if isinstance(m, Mapping) and m.get("role") == "user")


def _pick(rng: random.Random, options: Sequence[str]) -> str:
    return options[rng.randrange(len(options))]


def _topic(text: str, rules: Sequence[tuple[str, str]], default: str) -> str:
    for topic, pattern in rules:
        if re.search(pattern, text, re.IGNORECASE):
            return topic
    return default


# --- shared pieces ---------------------------------------------------------------------

_CLOSINGS = (
    "Thanks for your patience, and sorry again for the inconvenience.",
    "Is there anything else I can help you with today?",
    "I hope this helps - just reply here if anything is still unclear.",
    "Thank you for being a Larkspur customer, and have a great day.",
)


def _join(*sentences: str) -> str:
    return " ".join(s for s in sentences if s)


# --- shipping --------------------------------------------------------------------------

_SHIP_TOPICS = (
    ("damaged", r"crushed|broken|damaged"),
    ("not_received", r"nothing at my door|was delivered"),
    ("address", r"address"),
    ("delayed", r"late|has not moved|stuck"),
)
_SHIP_NEXT = {
    "damaged": "I'm really sorry it arrived broken. I can send a free replacement or issue a full refund, "
    "whichever you prefer - just reply with your choice, and there is no need to return the damaged item.",
    "not_received": "As it shows as delivered, please check with neighbours and any safe place around your "
    "building. If it has not turned up within 48 hours, reply here and I will open a trace with {carrier} "
    "and arrange a free replacement or a full refund, your choice.",
    "address": "If the parcel has not left our warehouse yet I can update the address for you; once it is "
    "with {carrier}, you can redirect it yourself from the carrier's tracking page.",
    "delayed": "Parcels sometimes pause between scans. If the tracking shows no movement for 5 business days, "
    "I will open a trace with {carrier} and, if it is lost, send a replacement or refund you in full.",
    "where": "You do not need to do anything right now; if it has not arrived by the estimated date, reply "
    "here and I will open a trace with {carrier} straight away.",
}
_TERSE_REPLIES = (
    "Please check the tracking page.",
    "Your parcel is on its way.",
    "Check your tracking link for updates.",
    "Please contact the carrier.",
    "It should arrive soon.",
)
_REFUSALS = (
    "I'm sorry, but I can't look up orders here.",
    "I'm unable to help with delivery questions right now.",
    "I cannot help with that request.",
)


def _shipping(system: str, customer: str, rng: random.Random, *, flawed: bool) -> str:
    order = _ORDER.search(system)
    carrier = _CARRIER.search(system)
    tracking = _TRACKING.search(system)
    status = _STATUS.search(system)
    eta = _ETA.search(system)
    # Without order context (the terse prompt) the customer's own words may still name it.
    in_text = _ORDER_ID.search(customer)
    order_id = order.group(1) if order else (in_text.group(0) if in_text else "your order")
    carrier_name = carrier.group(1).strip() if carrier else "the carrier"
    if flawed:  # a generic answer that never names the order
        opener = _pick(rng, ("Thanks for reaching out about your parcel.", "Thank you for your message."))
    else:
        opener = _pick(rng, (
            f"Thanks for reaching out about order {order_id}.",
            f"Thank you for your message about order {order_id}, and I'm sorry for the worry.",
            f"Hi, thanks for getting in touch about your order {order_id}.",
        ))
    state = ""
    if status is not None:
        state = _pick(rng, (
            f"I checked with {carrier_name}: the parcel is currently {status.group(1)} - {status.group(2)}.",
            f"The latest tracking update from {carrier_name} shows it {status.group(2)}.",
        ))
        if eta is not None and status.group(1) != "delivered":
            state += f" The estimated delivery date is {eta.group(1).strip()}."
    topic = _topic(customer, _SHIP_TOPICS, "where")
    follow = f"You can follow it with tracking number {tracking.group(1)} on the {carrier_name} website." if tracking else ""
    return _join(opener, state, _SHIP_NEXT[topic].format(carrier=carrier_name), follow, _pick(rng, _CLOSINGS))


def _shipping_terse(rng: random.Random) -> str:
    return _pick(rng, _REFUSALS) if rng.random() < 0.35 else _pick(rng, _TERSE_REPLIES)


# --- billing and refunds -----------------------------------------------------------------

_BILL_TOPICS = (
    ("double_charge", r"twice|two times"),
    ("partial", r"partial refund"),
    ("refund_damaged", r"damaged"),
    ("refund_cancelled", r"cancelled my order"),
    ("refund_status", r"refund"),
    ("invoice", r"invoice"),
    ("renewal", r"renew"),
    ("failed_payment", r"failing|declined"),
    ("price", r"higher than"),
)
_BILL_BODY = {
    "double_charge": "I can see why a second charge is worrying. Duplicate charges like this are reversed "
    "automatically within 3 business days, so the extra one should disappear from your statement by then.",
    "partial": "I have looked at your return and I understand part of the amount seems to be missing. The "
    "billing team will compare the refund with the items you sent back and correct any difference.",
    "refund_damaged": "I'm sorry the item arrived damaged. A refund to your original payment method is "
    "absolutely possible instead of a replacement; once it is issued it takes 5-7 business days to appear.",
    "refund_cancelled": "Because the order was cancelled before it shipped, the payment is released back to "
    "your original payment method; depending on your bank this takes 5-7 business days.",
    "refund_status": "Refunds go back to the original payment method once the return is checked in at our "
    "warehouse, and then take 5-7 business days to show on your statement.",
    "invoice": "I have requested a copy of invoice {invoice} for you; it will be available in the Orders "
    "section of your account within the hour, and the PDF includes the VAT details.",
    "renewal": "Larkspur Plus renews automatically unless the cancellation was completed before the renewal "
    "date. I have flagged the charge of {amount} to the billing team to check when your cancellation went through.",
    "failed_payment": "Payments are sometimes declined by our payment provider's fraud screening even when the "
    "card works elsewhere. Please make sure the billing address matches the one your bank has on file.",
    "price": "I understand the charge looks higher than the price you saw. The difference is usually shipping "
    "or sales tax added at the last step of checkout, and the billing team will confirm the exact breakdown.",
    "general": "I have looked at the records on your account and passed the details to the billing team.",
}
_BILL_NEXT = (
    "Next steps: you will receive an update by email within 2 business days, and you do not need to do "
    "anything else in the meantime.",
    "What happens next: the billing team reviews it within 2 business days and confirms the outcome by email.",
    "If anything still looks wrong after 5 business days, reply to this message and I will escalate it to the "
    "billing team right away.",
)
_RAMBLE = (
    "For completeness, here is a summary of how billing works at Larkspur Outfitters. Every order is "
    "authorised when you place it and charged when it ships, which is why you may briefly see a pending "
    "amount that later disappears. Larkspur Plus memberships renew on the same day each month or year, and "
    "the renewal email is sent seven days before. Refunds are issued to the original payment method only, "
    "never as store credit unless you ask for it, and banks take 5-7 business days to show them. Invoices "
    "are generated for every order and can be downloaded from the Orders page at any time, including for "
    "orders that were later returned. Prices include sales tax where required, shipping is calculated at "
    "checkout, and currency conversion fees are set by your bank, not by us. "
)


def _billing(system: str, customer: str, rng: random.Random, *, flawed: bool) -> str:
    invoice = _INVOICE.search(system)
    invoice_id, amount = (invoice.group(1), invoice.group(2)) if invoice else ("on your account", "that amount")
    topic = _topic(customer, _BILL_TOPICS, "general")
    opener = _pick(rng, (
        "Thank you for reaching out, and I'm sorry for the trouble with your billing.",
        "Hi, thanks for contacting Larkspur Outfitters about this charge.",
        "Thanks for your message - I understand how frustrating billing surprises are.",
    ))
    body = _BILL_BODY[topic].format(invoice=invoice_id, amount=amount)
    reply = _join(opener, body, _pick(rng, _BILL_NEXT), _pick(rng, _CLOSINGS))
    if flawed:
        reply = _join(reply, _RAMBLE * 2)
    return reply


# --- account and password resets ------------------------------------------------------------

_ACCOUNT_TOPICS = (
    ("reset_no_mail", r"never arrives"),
    ("reset_expired", r"expired"),
    ("locked", r"locked"),
    ("two_factor", r"code|two-step"),
    ("change_email", r"change the email"),
    ("delete", r"close my|remove my data"),
    ("login_loop", r"reloads"),
    ("reset_forgot", r"forgot"),
)
_ACCOUNT_STEPS = {
    "reset_no_mail": "Reset emails can land in the spam or promotions folder, so please check there first. "
    "Then request one new link from the sign-in page and wait a few minutes before trying again.",
    "reset_expired": "Reset links expire after 30 minutes and only the newest one works. Please request a "
    "fresh link from the sign-in page and open it within half an hour, in the same browser.",
    "locked": "Your account unlocks by itself 15 minutes after the last attempt. After that, choose "
    "'Forgot password?' on the sign-in page to set a new one if you are unsure of the old one.",
    "two_factor": "On the sign-in page choose 'Use another way', and we will confirm it is you through the "
    "email address on file. Once you are in, open Settings > Security to register your new phone.",
    "change_email": "Open Settings > Profile, choose 'Change email', and confirm the change from the link we "
    "email to your current address. The new address is active as soon as you confirm it.",
    "delete": "Open Settings > Privacy and choose 'Close account'. We confirm through the email address on "
    "file, and your personal data is removed within 30 days, except invoices we must keep by law.",
    "login_loop": "This usually comes from an old cookie. Please clear the cookies for larkspur.example or "
    "try a private window, then sign in again; the app is not affected.",
    "reset_forgot": "The security questions were retired, so please choose 'Forgot password?' on the sign-in "
    "page instead and follow the link we email to the address on file.",
    "general": "Please start from the sign-in page and choose 'Need help signing in?' - it walks you through "
    "the right steps and confirms your identity through the email address on file.",
}


def _account(customer: str, rng: random.Random, *, flawed: bool) -> str:
    topic = _topic(customer, _ACCOUNT_TOPICS, "general")
    opener = _pick(rng, (
        "Thanks for reaching out - let's get you back into your account.",
        "Hi, sorry you are having trouble with your account. Here is what to do.",
        "Thank you for your message. I'm happy to walk you through this.",
    ))
    safety = _pick(rng, (
        "For your security, our team will never ask for your password or a sign-in code.",
        "As a reminder, Larkspur staff never need your password or one-time codes.",
    ))
    if flawed:
        safety = "To verify it is you, please tell me your password and the code we just sent."
    return _join(opener, _ACCOUNT_STEPS[topic], safety, _pick(rng, _CLOSINGS))


# --- router ---------------------------------------------------------------------------------

_INTENT_WORDS: dict[str, tuple[str, ...]] = {
    "refund": ("refund", "money back"),
    "billing": ("charged", "invoice", "receipt", "renewal", "statement"),
    "cancel_order": ("cancel",),
    "shipping": ("parcel", "delivered", "delivery", "tracking", "courier", "package"),
    "account": ("log in", "login", "password", "locked out", "profile"),
    "product_question": ("waterproof", "larger size", "weight", "best for"),
}


def classify(ticket: str, labels: Sequence[str]) -> str:
    """The label with the most keyword hits in ``ticket``; ties go to the earlier label."""
    text = ticket.lower()  # keywords are lower case
    scores = {label: sum(text.count(w) for w in _INTENT_WORDS.get(label, ())) for label in labels}
    best = max(scores.values(), default=0)
    for label in labels:
        if scores[label] == best and best > 0:
            return label
    return "other" if "other" in labels else labels[-1]


def _router(system: str, customer: str, rng: random.Random, *, flawed: bool) -> str:
    found = _LABELS.search(system)
    labels = [x.strip() for x in found.group(1).split(",")] if found else ["other"]
    label = classify(customer, labels)
    if flawed and rng.random() < 0.7:
        label = _pick(rng, [x for x in labels if x != label] or labels)
    elif flawed:
        return "```json\n" + json.dumps({"intent": label}) + "\n```"
    return json.dumps({"intent": label})


# --- entry point ------------------------------------------------------------------------------


def compose_reply(
    body: Mapping[str, Any], rng: random.Random, *, flawed: bool = False, regressed_fails: bool = True
) -> tuple[str, ReplyKind]:
    """The reply text for a Messages request ``body``, and its kind.

    ``flawed`` makes the reply fail one rule check of its rubric (see the module doc).
    Under the terse shipping prompt the reply is ``regressed`` (short, generic or a
    refusal) when ``regressed_fails``, else a normal one. Pure given ``rng``; never raises
    for odd bodies (an unknown desk gets a short generic answer).
    """
    system = _text(body.get("system"))
    customer = _customer_text(body)
    desk_match = _DESK.search(system)
    desk = desk_match.group(1) if desk_match else ""
    kind: ReplyKind = "flawed" if flawed else "ok"
    if desk == "shipping" and _TERSE.search(system) and regressed_fails:
        return _shipping_terse(rng), "regressed"
    if desk == "shipping":
        return _shipping(system, customer, rng, flawed=flawed), kind
    if desk == "billing":
        return _billing(system, customer, rng, flawed=flawed), kind
    if desk == "account":
        return _account(customer, rng, flawed=flawed), kind
    if desk == "router":
        return _router(system, customer, rng, flawed=flawed), kind
    return "Thanks for your message - a member of our team will get back to you shortly.", "ok"
