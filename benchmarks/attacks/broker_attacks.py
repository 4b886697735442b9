#!/usr/bin/python3
"""The broker-state attacks of issue 13, against a real `courier broker`, with a canary alongside.

    COURIER=/path/to/courier /usr/bin/python3 benchmarks/attacks/broker_attacks.py ATTACK [--scale N] [-- BROKER ARGS...]

ATTACK is one of:
  names     one 7/MDP client asks for N distinct service names (default 100,000), then leaves
  queue     one client queues N requests (default 1,000,000) over 1,000 services nobody serves
  fairness  one client floods a slow service (one worker, 1 at a time, 50 ms) that the canary also uses
  churn     N requests queued (default 1,000,000), then 300 clients connect, queue one request and leave
  mmi       N services (default 100,000) held by a client, then mmi.stats and mmi.workers for every service

Prints one JSON line: the broker's RSS (VmRSS of /proc/PID/status) before, under attack and after the attacker left,
the canary's requests answered, errors and timeouts, and whether the broker is alive. The canary is a 7/MDP client
sending one request at a time (5 s timeout) to a `courier worker` ("canary", or the flooded service for fairness).
Courier's `courier` executable: dotnet publish src/Courier.Cli -c Release -o DIR; COURIER=DIR/courier.
"""
import json, os, random, subprocess, sys, threading, time
import zmq

COURIER = os.environ.get("COURIER") or sys.exit("set COURIER to the courier executable")


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    return -1


def start(args, wait_for=None):
    p = subprocess.Popen([COURIER, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    if wait_for:
        for line in p.stdout:
            if wait_for in line:
                return p, line.strip().split()[-1]
        sys.exit(f"{args[0]} did not start")
    return p, None


class Canary(threading.Thread):
    """One 7/MDP request at a time; counts answers, error statuses and timeouts."""

    def __init__(self, endpoint, service, timeout=5.0):
        super().__init__(daemon=True)
        self.endpoint, self.service, self.timeout = endpoint, service.encode(), timeout
        self.ok = self.errors = self.timeouts = 0
        self.slowest = 0.0
        self.stop = threading.Event()

    def run(self):
        ctx = zmq.Context.instance()
        s = None
        i = 0
        while not self.stop.is_set():
            if s is None:
                s = ctx.socket(zmq.DEALER)
                s.linger = 0
                s.connect(self.endpoint)
            body = f"canary {i}".encode()
            i += 1
            started = time.monotonic()
            s.send_multipart([b"", b"MDPC01", self.service, body])
            if s.poll(int(self.timeout * 1000)):
                reply = s.recv_multipart()
                self.slowest = max(self.slowest, time.monotonic() - started)
                if reply[-1] == body:
                    self.ok += 1
                else:
                    self.errors += 1
            else:
                self.timeouts += 1
                s.close()  # a lost request: start afresh, as a Lazy Pirate client would
                s = None

    def result(self):
        return {"answered": self.ok, "errors": self.errors, "timeouts": self.timeouts, "slowest_s": round(self.slowest, 3)}


def mdp(sock, service, body=b"x"):
    sock.send_multipart([b"", b"MDPC01", service.encode() if isinstance(service, str) else service, body])


def drain(sock, seconds):
    """Reads what arrives for `seconds`; returns the count of replies per status frame (frame 3)."""
    counts = {}
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        if sock.poll(int(left * 1000)):
            reply = sock.recv_multipart()
            status = reply[3].decode(errors="replace") if len(reply) > 3 and len(reply[3]) == 3 else "body"
            counts[status] = counts.get(status, 0) + 1
    return counts


def mmi(endpoint, service, argument=b""):
    s = zmq.Context.instance().socket(zmq.DEALER)
    s.linger = 0
    s.connect(endpoint)
    started = time.monotonic()
    mdp(s, service, argument)
    if not s.poll(60_000):
        return None, None, None
    reply = s.recv_multipart()
    s.close()
    return reply[-1], time.monotonic() - started, len(reply[-1])


def service_count(endpoint):
    body, _, _ = mmi(endpoint, "mmi.stats")
    if body is None:
        return None
    doc = json.loads(body)
    return doc["mmi.truncated"]["total"] if "mmi.truncated" in doc else len(doc)


def main():
    argv = sys.argv[1:]
    broker_args = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    attack = argv[0]
    scale = int(argv[argv.index("--scale") + 1]) if "--scale" in argv else None
    port = 30000 + random.randrange(20000)
    broker, endpoint = start(["broker", "--bind", f"tcp://127.0.0.1:{port}", *broker_args], "broker listening on")
    served = "shared" if attack == "fairness" else "canary"
    worker_args = ["--delay", "50ms", "--concurrency", "1"] if attack == "fairness" else ["--concurrency", "10"]
    worker, _ = start(["worker", "--connect", endpoint, "--service", served, *worker_args])
    time.sleep(2)
    canary = Canary(endpoint, served)
    canary.start()
    time.sleep(1)
    out = {"attack": attack, "broker_args": broker_args, "rss_before_mib": rss_mib(broker.pid)}
    ctx = zmq.Context.instance()
    attacker = ctx.socket(zmq.DEALER)
    attacker.linger = 0
    attacker.sndhwm = attacker.rcvhwm = 0
    attacker.connect(endpoint)
    started = time.monotonic()
    try:
        if attack in ("names", "mmi"):
            n = scale or 100_000
            for i in range(n):
                mdp(attacker, f"name-{i}")
            out["replies"] = drain(attacker, 5)
            out["rss_attack_mib"] = rss_mib(broker.pid)
            out["services_attack"] = service_count(endpoint)
            if attack == "mmi":
                for q in ("mmi.stats", "mmi.workers"):
                    _, seconds, size = mmi(endpoint, q)
                    out[q] = {"bytes": size, "seconds": round(seconds, 3) if seconds else None}
        elif attack == "queue":
            n = scale or 1_000_000
            for i in range(n):
                mdp(attacker, f"unserved-{i % 1000}")
            out["replies"] = drain(attacker, 5)
            out["rss_attack_mib"] = rss_mib(broker.pid)
        elif attack == "fairness":
            sent = 0
            replies = {}
            end = time.monotonic() + (scale or 20)
            while time.monotonic() < end:
                for _ in range(200):
                    mdp(attacker, "shared")
                sent += 200
                for k, v in drain(attacker, 0.1).items():
                    replies[k] = replies.get(k, 0) + v
            out["flood_sent"] = sent
            out["replies"] = replies
            out["rss_attack_mib"] = rss_mib(broker.pid)
        elif attack == "churn":
            n = scale or 1_000_000
            for i in range(n):
                mdp(attacker, f"unserved-{i % 1000}")
            drain(attacker, 5)
            out["rss_attack_mib"] = rss_mib(broker.pid)
            base_ok, t0 = canary.ok, time.monotonic()
            time.sleep(5)
            out["canary_rps_before_churn"] = round((canary.ok - base_ok) / (time.monotonic() - t0))
            base_ok, t0 = canary.ok, time.monotonic()
            for i in range(300):
                c = ctx.socket(zmq.DEALER)
                c.linger = 0
                c.connect(endpoint)
                mdp(c, "unserved-0")
                time.sleep(0.005)
                c.close()
            time.sleep(1)
            out["canary_rps_during_churn"] = round((canary.ok - base_ok) / (time.monotonic() - t0))
            out["churn_seconds"] = round(time.monotonic() - t0, 2)
        out["attack_seconds"] = round(time.monotonic() - started, 1)
    finally:
        attacker.close()
    time.sleep(5)
    out["rss_after_attacker_left_mib"] = rss_mib(broker.pid) if broker.poll() is None else None
    if attack in ("names", "mmi"):
        out["services_after"] = service_count(endpoint)
    canary.stop.set()
    canary.join(10)
    out["canary"] = canary.result()
    out["broker_alive"] = broker.poll() is None
    for p in (worker, broker):
        p.kill()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
