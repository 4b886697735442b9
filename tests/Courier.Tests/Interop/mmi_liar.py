"""A hostile 7/MDP peer for the health checks and `courier top`: it says it is a Courier broker (mmi.courier: 200),
answers mmi.stats and mmi.workers with SERVICES services named with terminal escape sequences (one worker listed under
every one), and every other 8/MMI query with ANSWER_BYTES bytes that start with escape sequences, a bidi override and
line breaks.
Usage: mmi_liar.py ENDPOINT ANSWER_BYTES SERVICES (port * picks one; it prints the endpoint it listens on)
"""
import json
import sys

import zmq

ctx = zmq.Context()
sock = ctx.socket(zmq.ROUTER)
sock.setsockopt(zmq.LINGER, 0)
sock.bind(sys.argv[1])
print("liar ready, listening on " + sock.getsockopt_string(zmq.LAST_ENDPOINT), flush=True)
head = "\x1b[2J\x1b]0;owned\x07\u202e\r\nFAKE: healthy\n".encode()
answer = head + b"x" * max(0, int(sys.argv[2]) - len(head))
names = ["\x1b[2J\x1b]0;owned\x07svc%d" % i for i in range(int(sys.argv[3]))]
stats = json.dumps({n: {"workers": 1, "queued": 0, "inflight": 0, "served": 1} for n in names}).encode()
worker = {"id": "w1", "name": "\x1b[31mred\u202eworker", "capacity": 1, "outstanding": 0, "served": 1}
workers = json.dumps({n: [worker] for n in names}).encode()
replies = {b"mmi.courier": b"200", b"mmi.stats": stats, b"mmi.workers": workers}
while True:
    frames = sock.recv_multipart()
    # A client's request: [client, "", "MDPC01", service, body...]; a worker's READY and heartbeats are ignored.
    if len(frames) >= 4 and frames[2] == b"MDPC01":
        service = frames[3]
        sock.send_multipart([frames[0], b"", b"MDPC01", service, replies.get(service, answer)])
