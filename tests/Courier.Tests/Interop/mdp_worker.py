"""A minimal 7/MDP echo worker on pyzmq (libzmq), written from rfc.zeromq.org/spec/7.

Replies with the request body, prefixed by a frame naming itself. Usage: mdp_worker.py ENDPOINT SERVICE NAME
"""
import sys
import time

import zmq

HEARTBEAT = 2.5
LIVENESS = 3
endpoint, service, name = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode()
ctx = zmq.Context()


def connect():
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    sock.send_multipart([b"", b"MDPW01", b"\x01", service])
    return sock


sock = connect()
print("worker ready", flush=True)
liveness = LIVENESS
next_heartbeat = time.time() + HEARTBEAT
while True:
    if sock.poll(int(HEARTBEAT * 1000)):
        frames = sock.recv_multipart()
        liveness = LIVENESS
        assert frames[0] == b"" and frames[1] == b"MDPW01"
        command = frames[2]
        if command == b"\x02":
            client, body = frames[3], frames[5:]
            sock.send_multipart([b"", b"MDPW01", b"\x03", client, b"", name, *body])
        elif command == b"\x05":
            sock.close()
            sock = connect()
    else:
        liveness -= 1
        if liveness == 0:
            sock.close()
            time.sleep(0.5)
            sock = connect()
            liveness = LIVENESS
    if time.time() >= next_heartbeat:
        next_heartbeat = time.time() + HEARTBEAT
        sock.send_multipart([b"", b"MDPW01", b"\x04"])
