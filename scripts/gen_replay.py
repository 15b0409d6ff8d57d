#!/usr/bin/env python3
"""Generates `cadence replay` input for load and scale measurements: N leads on the demo account, first
contacts spread over --spread-days, each following one realistic script (books, goes quiet after step 1-4,
opts out, defers, objects, only reads), on Instagram, Messenger and WhatsApp, with a few Meta redeliveries.

  scripts/gen_replay.py --leads 10000 [--seed 7] [--spread-days 25] [--start 2026-12-01T08:00:00Z] > events.jsonl

Output: JSON Lines `{"at": RFC 3339, "webhook": <Meta body>}` in non-decreasing `at` order (the replay
contract). Deterministic for a given seed. Shapes follow functions/cli/src/synth.rs and events/."""
import argparse, datetime as dt, heapq, json, random

IG_ID, PAGE_ID, WA_PHONE_ID, WABA = "17841400000000001", "102030405060708", "106540352242922", "102290129340398"

ap = argparse.ArgumentParser()
ap.add_argument("--leads", type=int, default=10000)
ap.add_argument("--seed", type=int, default=7)
ap.add_argument("--spread-days", type=float, default=25)
ap.add_argument("--start", default="2026-12-01T08:00:00Z")
a = ap.parse_args()
rng = random.Random(a.seed)
start = dt.datetime.fromisoformat(a.start.replace("Z", "+00:00"))

FIRST = ["Hi! saw your reel, how does it work?", "Salut ! C'est combien le programme débutant ?",
         "Hello, do you ship to Montréal?", "Hola, me interesa el curso", "info please", "Hey 👋 price?"]
YES = ["yes sure", "ok go", "yeah", "oui", "sure, ask away", "👍"]
ANSWERS = [("a", "more reach"), ("b", "b"), ("b", "followers into clients"), ("c", "something else really")]
SLOTS = ["the first one", "thursday works", "2", "SLOT_1"]
STOPS = ["STOP", "stop", "unsubscribe", "arrête", "no more messages please stop"]
DEFER = ["not now, send me something in October", "can you come back in March?", "maybe next month"]
OBJECT = ["too expensive for me right now", "I need to think about it", "price is high"]
CHATTER = ["haha nice", "thanks!", "cool", "will check"]
# Behaviour mix: (weight, name)
MIX = [(15, "books"), (30, "silent_1"), (12, "silent_2"), (10, "silent_3"), (8, "silent_4"), (5, "stop"),
       (5, "defer"), (5, "objection"), (10, "reads_only")]
TOTAL = sum(w for w, _ in MIX)

def rfc(t):
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

def pick_mix():
    r = rng.uniform(0, TOTAL)
    for w, name in MIX:
        r -= w
        if r <= 0:
            return name
    return MIX[-1][1]

def messaging(channel, user, t, n, kind, text=None, payload=None):
    ms = int(t.timestamp() * 1000)
    obj, biz = ("instagram", IG_ID) if channel == "ig" else ("page", PAGE_ID)
    item = {"sender": {"id": user}, "recipient": {"id": biz}, "timestamp": ms}
    if kind == "say":
        m = {"mid": f"m_{user}_{n}", "text": text}
        if payload:
            m["quick_reply"] = {"payload": payload}
        item["message"] = m
    elif kind == "read":
        item["read"] = {"mid": f"m_ours_{user}_{n}"} if channel == "ig" else {"watermark": ms}
    return {"object": obj, "entry": [{"id": biz, "time": ms, "messaging": [item]}]}

def whatsapp(user, name, t, n, kind, text=None, payload=None):
    ts = str(int(t.timestamp()))
    meta = {"display_phone_number": "15550783881", "phone_number_id": WA_PHONE_ID}
    if kind == "read":
        value = {"messaging_product": "whatsapp", "metadata": meta,
                 "statuses": [{"id": f"wamid.ours.{user}.{n}", "status": "read", "timestamp": ts, "recipient_id": user}]}
    else:
        m = {"from": user, "id": f"wamid.{user}.{n}", "timestamp": ts}
        if payload:
            m["type"] = "interactive"
            m["interactive"] = {"type": "button_reply", "button_reply": {"id": payload, "title": text}}
        else:
            m["type"] = "text"
            m["text"] = {"body": text}
        value = {"messaging_product": "whatsapp", "metadata": meta,
                 "contacts": [{"profile": {"name": name}, "wa_id": user}], "messages": [m]}
    return {"object": "whatsapp_business_account",
            "entry": [{"id": WABA, "changes": [{"field": "messages", "value": value}]}]}

def lead_script(i):
    """(time, body) pairs for lead i."""
    r = rng.random()
    channel = "ig" if r < 0.45 else ("fb" if r < 0.65 else "wa")
    if channel == "wa":
        cc = rng.choice(["336", "447", "1650555", "4915", "34"])
        user = cc + f"{i:08d}"
    else:
        user = ("73" if channel == "ig" else "69") + f"{i:014d}"
    name = rng.choice(["Sheena Nelson", "Léa Martin", "Tom", "Ana Pérez", "Kai"])
    t = start + dt.timedelta(seconds=rng.uniform(0, a.spread_days * 86400))
    n = [0]
    out = []
    def ev(delay_s, kind, text=None, payload=None):
        nonlocal t
        t = t + dt.timedelta(seconds=delay_s)
        n[0] += 1
        body = whatsapp(user, name, t, n[0], kind, text, payload) if channel == "wa" else \
            messaging(channel, user, t, n[0], kind, text, payload)
        out.append((t, body))
        if rng.random() < 0.02:  # Meta redelivers the same body a little later
            out.append((t + dt.timedelta(seconds=rng.uniform(1, 60)), body))
    mins = lambda lo, hi: rng.uniform(lo * 60, hi * 60)
    b = pick_mix()
    ev(0, "say", rng.choice(FIRST))
    if b == "silent_1":
        return out
    if b == "reads_only":
        ev(mins(1, 30), "read")
        return out
    if b == "stop" and rng.random() < 0.4:
        ev(mins(1, 20), "say", rng.choice(STOPS))
        return out
    ev(mins(1, 40), "say", rng.choice(YES))            # reply to the opener → qualify
    if b == "silent_2":
        return out
    if b == "defer":
        ev(mins(1, 60), "say", rng.choice(DEFER))
        return out
    key, text = rng.choice(ANSWERS)                     # answer → value
    if rng.random() < 0.4:
        ev(mins(1, 30), "say", text, f"QUALIFY_{key.upper()}")
    else:
        ev(mins(1, 30), "say", text)
    if b == "silent_3":
        return out
    if b == "stop":
        ev(mins(5, 120), "say", rng.choice(STOPS))
        return out
    ev(mins(1, 60), "read")                             # engaged → call ask
    if b == "silent_4":
        if rng.random() < 0.3:
            ev(mins(30, 300), "say", rng.choice(CHATTER))
        return out
    if b == "objection":
        ev(mins(5, 200), "say", rng.choice(OBJECT))
        return out
    ev(mins(2, 180), "say", rng.choice(SLOTS))          # books
    return out

events = []
for i in range(a.leads):
    events.extend(lead_script(i))
events.sort(key=lambda e: e[0])
w = __import__("sys").stdout
for t, body in events:
    w.write(json.dumps({"at": rfc(t), "webhook": body}, ensure_ascii=False, separators=(",", ":")) + "\n")
