"""A minimal 7/MDP broker on pyzmq (libzmq), written from rfc.zeromq.org/spec/7 and 8/MMI.

It knows nothing of Courier: it is the third-party broker Courier's worker and client must work with.
Usage: mdp_broker.py ENDPOINT (port * picks one; the broker prints the endpoint it listens on)
"""
import sys
import time

import zmq

HEARTBEAT = 2.5
LIVENESS = 3

ctx = zmq.Context()
sock = ctx.socket(zmq.ROUTER)
sock.setsockopt(zmq.LINGER, 0)
sock.bind(sys.argv[1])
print("broker ready, listening on " + sock.getsockopt_string(zmq.LAST_ENDPOINT), flush=True)

services = {}  # name -> {"requests": [(client, body)], "waiting": [worker id]}
workers = {}   # worker id -> {"service": name, "expiry": time}


def service(name):
    return services.setdefault(name, {"requests": [], "waiting": []})


def to_worker(wid, command, *rest):
    sock.send_multipart([wid, b"", b"MDPW01", command, *rest])


def dispatch(svc):
    while svc["requests"] and svc["waiting"]:
        wid = svc["waiting"].pop(0)
        client, body = svc["requests"].pop(0)
        to_worker(wid, b"\x02", client, b"", *body)


def delete_worker(wid, disconnect):
    worker = workers.pop(wid, None)
    if worker is None:
        return
    if disconnect:
        to_worker(wid, b"\x05")
    waiting = services[worker["service"]]["waiting"]
    if wid in waiting:
        waiting.remove(wid)


next_heartbeat = time.time() + HEARTBEAT
while True:
    if sock.poll(int(HEARTBEAT * 1000)):
        frames = sock.recv_multipart()
        sender, empty, header = frames[0], frames[1], frames[2]
        if empty != b"":
            continue
        if header == b"MDPC01":
            name, body = frames[3], frames[4:]
            if name.startswith(b"mmi."):
                code = b"501"
                if name == b"mmi.service":
                    code = b"200" if body and body[0] in services and services[body[0]]["waiting"] else b"404"
                sock.send_multipart([sender, b"", b"MDPC01", name, code])
            else:
                svc = service(name)
                svc["requests"].append((sender, body))
                dispatch(svc)
        elif header == b"MDPW01":
            command = frames[3]
            known = sender in workers
            if command == b"\x01":
                if known:
                    delete_worker(sender, True)
                else:
                    name = frames[4]  # frames after the service name are ignored, as 7/MDP defines none
                    workers[sender] = {"service": name, "expiry": time.time() + HEARTBEAT * LIVENESS}
                    service(name)["waiting"].append(sender)
                    dispatch(service(name))
            elif command == b"\x03":
                if known:
                    client, body = frames[4], frames[6:]
                    worker = workers[sender]
                    sock.send_multipart([client, b"", b"MDPC01", worker["service"], *body])
                    worker["expiry"] = time.time() + HEARTBEAT * LIVENESS
                    service(worker["service"])["waiting"].append(sender)
                    dispatch(service(worker["service"]))
                else:
                    to_worker(sender, b"\x05")
            elif command == b"\x04":
                if known:
                    workers[sender]["expiry"] = time.time() + HEARTBEAT * LIVENESS
                else:
                    to_worker(sender, b"\x05")
            elif command == b"\x05":
                delete_worker(sender, False)
    now = time.time()
    if now >= next_heartbeat:
        next_heartbeat = now + HEARTBEAT
        for wid, worker in list(workers.items()):
            if worker["expiry"] < now:
                delete_worker(wid, False)
            elif wid in services[worker["service"]]["waiting"]:
                to_worker(wid, b"\x04")
