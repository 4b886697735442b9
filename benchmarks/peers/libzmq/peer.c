// The reference workload on plain libzmq: the native anchor the other systems are compared with.
// Each role is its own process (benchmarks/peers/run starts them):
//   libzmq-peer broker                                    ROUTER front, DEALER back, zmq_proxy; prints "ready FE BE"
//   libzmq-peer worker BACKEND                            REP echo of whole messages; prints "ready"
//   libzmq-peer server                                    ROUTER echo of whole messages, no broker (run's TOPOLOGY
//                                                         direct and nginx); prints "ready ENDPOINT"
//   libzmq-peer client FRONTEND CLIENTS INFLIGHT SECONDS SIZE [WARMUP]
//                                                         CLIENTS DEALER connections (one thread each), INFLIGHT
//                                                         requests pipelined on each; prints one JSON line of the
//                                                         SECONDS after WARMUP seconds of the same load (default 0)
// A request is ["", body] with its send time in the body's first 8 bytes: one frame per request through the proxy, as
// a DEALER client of any broker sends. Bodies under 8 bytes have no room for it: they go as [send time, "", body],
// since REP sends every frame before the empty delimiter back as the envelope. SIZE may be 0 bytes or many MiB.
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

static void *ctx;

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static _Noreturn void die(const char *what) {
  fprintf(stderr, "libzmq-peer: %s: %s\n", what, zmq_strerror(zmq_errno()));
  exit(1);
}

// CURVE mode (benchmarks/peers/run libzmq-curve): keys in Z85 from the environment. The broker's sockets are CURVE
// servers (no ZAP handler: every client key is admitted), workers and clients CURVE clients of it.
static void curve_server(void *socket) {
  const char *secret = getenv("CURVE_SERVER_SECRET");
  if (!secret) return;
  int one = 1;
  if (zmq_setsockopt(socket, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
      zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, secret, 40) != 0)
    die("CURVE server keys");
}

static void curve_client(void *socket) {
  const char *server = getenv("CURVE_SERVER_PUBLIC");
  if (!server) return;
  if (zmq_setsockopt(socket, ZMQ_CURVE_SERVERKEY, server, 40) != 0 ||
      zmq_setsockopt(socket, ZMQ_CURVE_PUBLICKEY, getenv("CURVE_CLIENT_PUBLIC"), 40) != 0 ||
      zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, getenv("CURVE_CLIENT_SECRET"), 40) != 0)
    die("CURVE client keys");
}

// Binds SOCKET to a port the kernel picks and writes the endpoint it got into ENDPOINT.
static void bind_any(void *socket, char *endpoint, size_t size) {
  if (zmq_bind(socket, "tcp://127.0.0.1:*") != 0) die("bind");
  if (zmq_getsockopt(socket, ZMQ_LAST_ENDPOINT, endpoint, &size) != 0) die("ZMQ_LAST_ENDPOINT");
}

static int broker(void) {
  void *front = zmq_socket(ctx, ZMQ_ROUTER), *back = zmq_socket(ctx, ZMQ_DEALER);
  // No high-water mark: a ROUTER drops replies silently at its HWM, and a deep pipeline must not lose requests.
  int unlimited = 0;
  void *sockets[] = {front, back};
  for (int i = 0; i < 2; i++) {
    zmq_setsockopt(sockets[i], ZMQ_SNDHWM, &unlimited, sizeof unlimited);
    zmq_setsockopt(sockets[i], ZMQ_RCVHWM, &unlimited, sizeof unlimited);
    curve_server(sockets[i]);
  }
  char fe[256], be[256];
  bind_any(front, fe, sizeof fe);
  bind_any(back, be, sizeof be);
  printf("ready %s %s\n", fe, be);
  fflush(stdout);
  zmq_proxy(front, back, NULL);
  return 1;  // zmq_proxy returns only when the context is terminated
}

static int worker(const char *backend) {
  void *s = zmq_socket(ctx, ZMQ_REP);
  curve_client(s);
  if (zmq_connect(s, backend) != 0) die("connect");
  printf("ready\n");
  fflush(stdout);
  zmq_msg_t part;  // each frame is received and sent back as is: no copy, no size limit
  zmq_msg_init(&part);
  for (;;) {
    if (zmq_msg_recv(&part, s, 0) < 0) die("recv");
    int more = zmq_msg_more(&part);
    if (zmq_msg_send(&part, s, more ? ZMQ_SNDMORE : 0) < 0) die("send");
  }
}

static int server(void) {
  void *s = zmq_socket(ctx, ZMQ_ROUTER);
  int unlimited = 0;  // as the broker's: a ROUTER drops replies silently at its HWM
  zmq_setsockopt(s, ZMQ_SNDHWM, &unlimited, sizeof unlimited);
  zmq_setsockopt(s, ZMQ_RCVHWM, &unlimited, sizeof unlimited);
  curve_server(s);
  char endpoint[256];
  bind_any(s, endpoint, sizeof endpoint);
  printf("ready %s\n", endpoint);
  fflush(stdout);
  zmq_msg_t part;  // routing id first: echoed as it came, each frame goes back to its sender without a copy
  zmq_msg_init(&part);
  for (;;) {
    if (zmq_msg_recv(&part, s, 0) < 0) die("recv");
    int more = zmq_msg_more(&part);
    if (zmq_msg_send(&part, s, more ? ZMQ_SNDMORE : 0) < 0) die("send");
  }
}

struct connection {
  const char *frontend;
  int inflight;
  size_t size;
  int64_t from_ns;  // replies before this are the warm-up: not counted
  int64_t end_ns;
  // results, written by this connection's thread only
  int64_t *latencies_ns;
  size_t count, capacity;
  long errors;
};

static void send_request(void *s, char *body, size_t size) {
  int64_t t = now_ns();
  if (size >= sizeof t)
    memcpy(body, &t, sizeof t);
  else
    zmq_send(s, &t, sizeof t, ZMQ_SNDMORE);
  zmq_send(s, "", 0, ZMQ_SNDMORE);
  zmq_send(s, body, size, 0);
}

static void *run_connection(void *arg) {
  struct connection *c = arg;
  void *s = zmq_socket(ctx, ZMQ_DEALER);
  curve_client(s);
  if (zmq_connect(s, c->frontend) != 0) die("connect");
  // A lost request would otherwise hang the drain at the end: after 2 s of silence the rest count as errors.
  int timeout_ms = 2000;
  zmq_setsockopt(s, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
  char *body = calloc(1, c->size ? c->size : 1);
  int in_body = c->size >= sizeof(int64_t);  // where the send time travels
  for (int i = 0; i < c->inflight; i++) send_request(s, body, c->size);
  int outstanding = c->inflight;
  zmq_msg_t reply;
  zmq_msg_init(&reply);
  char delimiter[1];
  while (outstanding > 0) {
    int64_t sent = 0;
    // A failed receive is the 2 s timeout (or a malformed reply): the drain ends there.
    if (!in_body && zmq_recv(s, &sent, sizeof sent, 0) != sizeof sent) break;
    if (zmq_recv(s, delimiter, sizeof delimiter, 0) < 0) break;
    if (zmq_msg_recv(&reply, s, 0) < 0) break;  // the echoed body
    outstanding--;
    if (in_body && zmq_msg_size(&reply) >= sizeof sent) memcpy(&sent, zmq_msg_data(&reply), sizeof sent);
    int64_t now = now_ns();
    if (zmq_msg_size(&reply) != c->size) {
      c->errors++;
    } else if (now >= c->from_ns) {
      if (c->count == c->capacity) {
        c->capacity = c->capacity ? c->capacity * 2 : 65536;
        c->latencies_ns = realloc(c->latencies_ns, c->capacity * sizeof *c->latencies_ns);
        if (!c->latencies_ns) die("out of memory");
      }
      c->latencies_ns[c->count++] = now - sent;
    }
    if (now < c->end_ns) {
      send_request(s, body, c->size);
      outstanding++;
    }
  }
  c->errors += outstanding;
  zmq_msg_close(&reply);
  free(body);
  int linger = 0;
  zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof linger);
  zmq_close(s);
  return NULL;
}

static int compare_int64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

// The smallest latency that PERCENT % of the requests did not exceed (as HdrHistogram reports it), in microseconds.
static long percentile_us(const int64_t *sorted, size_t n, double percent) {
  if (n == 0) return 0;
  size_t rank = (size_t)ceil(percent / 100.0 * (double)n);
  if (rank < 1) rank = 1;
  if (rank > n) rank = n;
  return (long)((sorted[rank - 1] + 500) / 1000);
}

static int client(const char *frontend, int clients, int inflight, double seconds, size_t size, double warmup) {
  struct connection *cs = calloc((size_t)clients, sizeof *cs);
  pthread_t *threads = calloc((size_t)clients, sizeof *threads);
  int64_t start = now_ns() + (int64_t)(warmup * 1e9);  // the measured window starts after the warm-up
  for (int i = 0; i < clients; i++) {
    cs[i] = (struct connection){frontend, inflight, size, start, start + (int64_t)(seconds * 1e9), NULL, 0, 0, 0};
    pthread_create(&threads[i], NULL, run_connection, &cs[i]);
  }
  for (int i = 0; i < clients; i++) pthread_join(threads[i], NULL);
  double elapsed = (double)(now_ns() - start) / 1e9;
  size_t n = 0;
  long errors = 0;
  for (int i = 0; i < clients; i++) n += cs[i].count, errors += cs[i].errors;
  int64_t *all = malloc((n ? n : 1) * sizeof *all);
  for (size_t i = 0, at = 0; i < (size_t)clients; at += cs[i].count, i++)
    if (cs[i].count) memcpy(all + at, cs[i].latencies_ns, cs[i].count * sizeof *all);
  qsort(all, n, sizeof *all, compare_int64);
  // The same fields, in the same order, as `courier bench --json`.
  printf("{\"requests\":%zu,\"errors\":%ld,\"seconds\":%.3f,\"rps\":%.0f,\"p50_us\":%ld,\"p90_us\":%ld,"
         "\"p99_us\":%ld,\"p999_us\":%ld,\"max_us\":%ld}\n",
         n, errors, elapsed, (double)n / elapsed, percentile_us(all, n, 50), percentile_us(all, n, 90),
         percentile_us(all, n, 99), percentile_us(all, n, 99.9), percentile_us(all, n, 100));
  return n > 0 ? 0 : 3;
}

int main(int argc, char **argv) {
  ctx = zmq_ctx_new();
  const char *role = argc > 1 ? argv[1] : "";
  if (strcmp(role, "broker") == 0 && argc == 2) return broker();
  if (strcmp(role, "worker") == 0 && argc == 3) return worker(argv[2]);
  if (strcmp(role, "server") == 0 && argc == 2) return server();
  if (strcmp(role, "client") == 0 && (argc == 7 || argc == 8))
    return client(argv[2], atoi(argv[3]), atoi(argv[4]), atof(argv[5]), (size_t)atol(argv[6]), argc == 8 ? atof(argv[7]) : 0);
  fprintf(stderr,
          "usage: libzmq-peer broker | worker BACKEND | server | client FRONTEND CLIENTS INFLIGHT SECONDS SIZE [WARMUP]\n");
  return 2;
}
