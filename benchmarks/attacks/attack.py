#!/usr/bin/python3
"""Hostile peers for benchmarks/attacks/*.sh (pyzmq, Debian's python3-zmq). Prints what it sent and got back."""
import socket, struct, sys, time
import zmq

def batch(records, service=b"echo"):
    out = bytearray(b"CURB03\x01")
    for i in range(records):
        out += struct.pack(">QB", i + 1, len(service)) + service + struct.pack(">I", 0)
    return bytes(out)

def envelope(endpoint, envelope_bytes, records, service):
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.RCVHWM, 0)
    s.connect(endpoint)
    frame = batch(records, service.encode())
    s.send_multipart([b"\x00" * envelope_bytes, b"", frame])
    sent = envelope_bytes + len(frame)
    received, replies = 0, 0
    deadline = time.time() + 10
    while time.time() < deadline:
        if s.poll(1000):
            received += sum(len(f) for f in s.recv_multipart())
            replies += 1
    print(f"sent {sent} bytes, received {received} bytes in {replies} replies")

def connections(host, port, count, hold):
    held = []
    for _ in range(count):
        try:
            c = socket.create_connection((host, int(port)), timeout=5)
            held.append(c)
        except OSError as e:
            print(f"connect failed after {len(held)}: {e}")
            break
    print(f"opened {len(held)} connections; holding {hold}s", flush=True)
    time.sleep(float(hold))
    closed = 0
    for c in held:
        c.setblocking(False)
        try:
            if c.recv(1) == b"":
                closed += 1
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
    print(f"{closed} of {len(held)} were closed by the server")

def junk(endpoint, count):
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.SNDHWM, 0)
    s.connect(endpoint)
    for _ in range(int(count)):
        s.send(b"\x01")
    time.sleep(2)
    s.setsockopt(zmq.LINGER, 5000)
    s.close()
    print(f"sent {count} one-byte messages")

def broker(bind, requests):
    ctx = zmq.Context()
    r = ctx.socket(zmq.ROUTER)
    r.setsockopt(zmq.RCVHWM, 0)
    r.setsockopt(zmq.SNDHWM, 0)
    r.bind(bind)
    frames = r.recv_multipart()
    ident = frames[0]
    start = time.time()
    for i in range(int(requests)):
        r.send_multipart([ident, b"", b"MDPW01", b"\x02", b"client-%d" % i, b"", b"body %d" % i])
    answered, refused = 0, 0
    deadline = time.time() + 30
    while answered + refused < int(requests) and time.time() < deadline:
        if r.poll(1000):
            f = r.recv_multipart()
            if len(f) >= 7 and f[3] == b"\x03":
                if f[6] == b"503":
                    refused += 1
                else:
                    answered += 1
        if refused and answered == 0 and refused + 10 >= int(requests):
            print(f"{refused} refused 503 in {time.time() - start:.2f}s while 10 run", flush=True)
            break
    print(f"answered {answered}, refused {refused} in {time.time() - start:.2f}s")

def nonreader(endpoint):
    """A DEALER that reads nothing: a one-message receive queue, a 16 KiB kernel buffer, no send limit."""
    s = zmq.Context.instance().socket(zmq.DEALER)
    s.setsockopt(zmq.RCVHWM, 1)
    s.setsockopt(zmq.RCVBUF, 16 * 1024)
    s.setsockopt(zmq.SNDHWM, 0)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(endpoint)
    return s

def noread(endpoint, count, size, hold, pace=0.0):
    """
    Asks for COUNT echoes of SIZE bytes and never reads one: a one-message receive queue, a 16 KiB kernel buffer.
    PACE seconds between requests keep the server's inbound queue empty, so what it holds is what it sends.
    """
    s = nonreader(endpoint)
    body = b"\x00" * int(size)
    for i in range(int(count)):
        s.send_multipart([b"", b"CURC02" + struct.pack(">Q", i + 1) + b"echo", body])
        if pace:
            time.sleep(pace)
    print(f"sent {count} requests of {size} bytes; holding {hold}s without reading", flush=True)
    time.sleep(float(hold))
    s.close()
    print("left", flush=True)

def unreadbroker(bind, count, size, hold):
    """
    A 7/MDP broker that takes a worker's READY, sends it COUNT requests for echoes of SIZE bytes and never reads again:
    a one-message receive queue, a 16 KiB kernel buffer.
    """
    r = zmq.Context.instance().socket(zmq.ROUTER)
    r.setsockopt(zmq.SNDHWM, 0)
    r.setsockopt(zmq.LINGER, 0)
    r.bind(bind)
    ident = r.recv_multipart()[0]
    r.setsockopt(zmq.RCVHWM, 1)
    body = b"\x00" * int(size)
    for i in range(int(count)):
        r.send_multipart([ident, b"", b"MDPW01", b"\x02", b"client-%d" % i, b"", body])
    print(f"sent {count} requests of {size} bytes; holding {hold}s without reading", flush=True)
    time.sleep(float(hold))
    r.close()
    print("left", flush=True)

def frames(endpoint, count, frames, hold):
    """
    Asks for COUNT echoes of bodies of FRAMES empty frames and never reads one: each costs 2 bytes a frame on the wire,
    and 64 in libzmq's queue for as long as it is not written.
    """
    s = nonreader(endpoint)
    body = [b""] * int(frames)
    for i in range(int(count)):
        s.send_multipart([b"", b"CURC02" + struct.pack(">Q", i + 1) + b"echo"] + body)
    print(f"sent {count} requests of {frames} empty frames ({int(count) * int(frames) * 2 / 1e6:.1f} MB); holding {hold}s without reading", flush=True)
    time.sleep(float(hold))
    s.close()
    print("left", flush=True)

def collide(endpoint, count, per_batch, service="echo"):
    """
    COUNT at-most-once courier/5 requests, PER_BATCH to a batch, each waited for, whose request ids (k << 32) | k all
    hashed alike under .NET's generated record hash: every reply a server or broker remembers lands in one bucket.
    """
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    s.connect(endpoint)
    client = b"\x42" * 16
    name = service.encode()
    meta = b"\x01\x00" + struct.pack(">I", 0)  # attempt 1, not idempotent, no budget, no headers
    answered, start, k = 0, time.time(), 0
    while k < count:
        out = bytearray(b"CURB03\x05" + client)
        n = min(per_batch, count - k)
        for _ in range(n):
            k += 1
            out += struct.pack(">QB", (k << 32) | k, len(name)) + name + struct.pack(">H", len(meta)) + meta + struct.pack(">I", 0)
        s.send_multipart([b"", bytes(out)])
        got, deadline = 0, time.time() + 60
        while got < n and time.time() < deadline:
            if s.poll(1000):
                f = s.recv_multipart()
                got += (len(f[-1]) - 7) // 16 if f[-1][:6] == b"CURB03" else 1
        answered += got
    print(f"{answered} of {count} answered in {time.time() - start:.2f}s")

def unfinished(host, port, megabytes, seconds):
    """Raw ZMTP 3.0: greets, waits for the listener's READY, then sends empty frames flagged "more" and never a last one."""
    s = socket.create_connection((host, int(port)), timeout=10)
    ready = b"\x05READY" + bytes([11]) + b"Socket-Type" + struct.pack(">I", 6) + b"DEALER"
    s.sendall(b"\xff" + b"\x00" * 8 + b"\x7f\x03\x00" + b"NULL".ljust(20, b"\x00") + b"\x00" * 32 + bytes([4, len(ready)]) + ready)
    got = b""
    while b"READY" not in got:  # libzmq drops a peer whose first frames come with its greeting
        got += s.recv(4096)
    chunk, sent, deadline = b"\x01\x00" * 50000, 0, time.time() + float(seconds)
    try:
        while sent < int(megabytes) * 1000000 and time.time() < deadline:
            s.sendall(chunk)
            sent += len(chunk)
        outcome = "still open"
    except OSError as e:
        outcome = f"closed by the listener ({e.strerror})"
    print(f"sent {sent} bytes of unfinished message; connection {outcome}", flush=True)

if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "unfinished":
        unfinished(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    if mode == "envelope":
        envelope(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] if len(sys.argv) > 5 else "echo")
    elif mode == "connections":
        connections(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    elif mode == "junk":
        junk(sys.argv[2], sys.argv[3])
    elif mode == "broker":
        broker(sys.argv[2], sys.argv[3])
    elif mode == "collide":
        collide(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif mode == "frames":
        frames(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    elif mode == "unreadbroker":
        unreadbroker(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5])
    elif mode == "noread":
        noread(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], float(sys.argv[6]) if len(sys.argv) > 6 else 0.0)
