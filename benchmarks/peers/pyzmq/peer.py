#!/usr/bin/python3
"""The reference workload on pyzmq: what a Python user of ZeroMQ gets.

Each role is its own process (benchmarks/peers/run starts them):
  peer.py broker                                         ROUTER/DEALER zmq.proxy; prints "ready FE BE"
  peer.py worker BACKEND                                 REP echo; prints "ready"
  peer.py server                                         ROUTER echo, no broker (run's TOPOLOGY direct and nginx);
                                                         prints "ready ENDPOINT"
  peer.py client FRONTEND CLIENTS INFLIGHT SECONDS SIZE [WARMUP]
                                                         one process per DEALER connection (the GIL would otherwise
                                                         serialise them), INFLIGHT requests pipelined on each;
                                                         prints one JSON line of the SECONDS after WARMUP seconds
                                                         of the same load (default 0)
A request is ["", body] with its send time in the body's first 8 bytes: one frame per request through the proxy, as a
DEALER client of any broker sends. Bodies under 8 bytes have no room for it: they go as [send time, "", body], since
REP sends every frame before the empty delimiter back as the envelope. SIZE may be 0 bytes or many MiB.
"""
import json
import math
import multiprocessing
import struct
import sys
import time

import zmq


def broker():
    ctx = zmq.Context()
    front, back = ctx.socket(zmq.ROUTER), ctx.socket(zmq.DEALER)
    for s in (front, back):
        # No high-water mark: a ROUTER drops replies silently at its HWM, and a deep pipeline must not lose requests.
        s.sndhwm = s.rcvhwm = 0
        s.bind("tcp://127.0.0.1:*")
    print("ready", front.last_endpoint.decode(), back.last_endpoint.decode(), flush=True)
    zmq.proxy(front, back)


def worker(backend):
    s = zmq.Context().socket(zmq.REP)
    s.connect(backend)
    print("ready", flush=True)
    while True:
        s.send_multipart(s.recv_multipart(copy=False), copy=False)


def server():
    s = zmq.Context().socket(zmq.ROUTER)
    s.sndhwm = s.rcvhwm = 0  # as the broker's: a ROUTER drops replies silently at its HWM
    s.bind("tcp://127.0.0.1:*")
    print("ready", s.last_endpoint.decode(), flush=True)
    while True:  # routing id first: echoed as it came, the reply goes back to its sender
        s.send_multipart(s.recv_multipart(copy=False), copy=False)


def connection(frontend, inflight, size, begin, end, results):
    """One DEALER connection in its own process; puts (latencies in ns, errors) on RESULTS."""
    s = zmq.Context().socket(zmq.DEALER)
    s.connect(frontend)
    s.rcvtimeo = 2000  # a lost request would otherwise hang the drain: after 2 s of silence the rest count as errors
    in_body = size >= 8  # where the send time travels
    pad = bytes(size - 8 if in_body else size)
    clock = time.perf_counter_ns

    def send():
        stamp = struct.pack("q", clock())
        s.send_multipart([b"", stamp + pad] if in_body else [stamp, b"", pad])

    for _ in range(inflight):
        send()
    outstanding, errors, latencies = inflight, 0, []
    while outstanding:
        try:
            frames = s.recv_multipart()
        except zmq.Again:
            break
        outstanding -= 1
        reply = frames[-1]
        now = clock()
        if len(reply) != size:
            errors += 1
        elif now >= begin:  # replies before BEGIN are the warm-up: not counted
            latencies.append(now - struct.unpack_from("q", reply if in_body else frames[0])[0])
        if now < end:
            send()
            outstanding += 1
    results.put((latencies, errors + outstanding))
    s.close(linger=0)


def percentile_us(ordered, percent):
    """The smallest latency that PERCENT % of the requests did not exceed (as HdrHistogram reports it)."""
    if not ordered:
        return 0
    rank = min(len(ordered), max(1, math.ceil(percent / 100 * len(ordered))))
    return round(ordered[rank - 1] / 1000)


def client(frontend, clients, inflight, seconds, size, warmup=0.0):
    results = multiprocessing.Queue()
    # CLOCK_MONOTONIC: the same clock in every child process; the measured window starts after the warm-up.
    start = time.perf_counter_ns() + int(warmup * 1e9)
    end = start + int(seconds * 1e9)
    children = [multiprocessing.Process(target=connection, args=(frontend, inflight, size, start, end, results), daemon=True)
                for _ in range(clients)]
    for c in children:
        c.start()
    latencies, errors = [], 0
    for _ in children:  # drain the queue before joining: a child does not exit while its put is unread
        lat, err = results.get()
        latencies += lat
        errors += err
    for c in children:
        c.join()
    elapsed = (time.perf_counter_ns() - start) / 1e9
    latencies.sort()
    # The same fields, in the same order, as `courier bench --json`.
    print(json.dumps({
        "requests": len(latencies), "errors": errors, "seconds": round(elapsed, 3),
        "rps": round(len(latencies) / elapsed),
        "p50_us": percentile_us(latencies, 50), "p90_us": percentile_us(latencies, 90),
        "p99_us": percentile_us(latencies, 99), "p999_us": percentile_us(latencies, 99.9),
        "max_us": percentile_us(latencies, 100),
    }, separators=(",", ":")))
    return 0 if latencies else 3


def main(argv):
    role, args = (argv[1], argv[2:]) if len(argv) > 1 else ("", [])
    if role == "broker" and not args:
        return broker()
    if role == "worker" and len(args) == 1:
        return worker(args[0])
    if role == "server" and not args:
        return server()
    if role == "client" and len(args) in (5, 6):
        return client(args[0], int(args[1]), int(args[2]), float(args[3]), int(args[4]), float(args[5]) if len(args) == 6 else 0.0)
    print("usage: peer.py broker | worker BACKEND | server | client FRONTEND CLIENTS INFLIGHT SECONDS SIZE [WARMUP]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
