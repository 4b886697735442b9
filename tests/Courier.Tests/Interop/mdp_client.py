"""A minimal 7/MDP client on pyzmq (libzmq), written from rfc.zeromq.org/spec/7.

Sends one request per BODY to SERVICE, one at a time, and prints each reply's frames joined by '|'.
Usage: mdp_client.py ENDPOINT SERVICE BODY...
"""
import sys

import zmq

endpoint, service = sys.argv[1], sys.argv[2].encode()
ctx = zmq.Context()
sock = ctx.socket(zmq.DEALER)
sock.setsockopt(zmq.LINGER, 0)
sock.setsockopt(zmq.RCVTIMEO, 10000)
sock.connect(endpoint)
for body in sys.argv[3:]:
    sock.send_multipart([b"", b"MDPC01", service, body.encode()])
    frames = sock.recv_multipart()
    assert frames[0] == b"" and frames[1] == b"MDPC01" and frames[2] == service, frames
    print(b"|".join(frames[3:]).decode(), flush=True)
