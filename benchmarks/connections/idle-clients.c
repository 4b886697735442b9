// Opens N DEALER connections to ENDPOINT, sends one stock request on each (["", "idle"]) so that the server knows the
// peer, reads the replies, then holds the connections open, idle, for SECONDS. Prints "ready N" once all are answered.
// HEARTBEAT_MS=… gives each connection ZMTP heartbeats as a Courier client has them (that interval, 3× it as timeout).
//   [HEARTBEAT_MS=5000] idle-clients ENDPOINT N SECONDS
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <zmq.h>

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: %s ENDPOINT N SECONDS\n", argv[0]); return 2; }
    const char *endpoint = argv[1];
    int n = atoi(argv[2]), seconds = atoi(argv[3]);
    int heartbeat = getenv("HEARTBEAT_MS") ? atoi(getenv("HEARTBEAT_MS")) : 0, heartbeat_timeout = 3 * heartbeat;
    void *ctx = zmq_ctx_new();
    zmq_ctx_set(ctx, ZMQ_MAX_SOCKETS, n + 16);
    void **sockets = calloc((size_t)n, sizeof(void *));
    for (int i = 0; i < n; i++) {
        sockets[i] = zmq_socket(ctx, ZMQ_DEALER);
        if (sockets[i] && heartbeat > 0) {
            zmq_setsockopt(sockets[i], ZMQ_HEARTBEAT_IVL, &heartbeat, sizeof heartbeat);
            zmq_setsockopt(sockets[i], ZMQ_HEARTBEAT_TIMEOUT, &heartbeat_timeout, sizeof heartbeat_timeout);
        }
        if (!sockets[i] || zmq_connect(sockets[i], endpoint) != 0) { fprintf(stderr, "socket %d: %s\n", i, zmq_strerror(zmq_errno())); return 1; }
        zmq_send(sockets[i], "", 0, ZMQ_SNDMORE);
        zmq_send(sockets[i], "idle", 4, 0);
    }
    int answered = 0;
    for (int i = 0; i < n; i++) {
        int timeout = 30000;
        zmq_setsockopt(sockets[i], ZMQ_RCVTIMEO, &timeout, sizeof timeout);
        char buffer[64];
        int more = 1;
        size_t size = sizeof more;
        int got = 0;
        while (more && zmq_recv(sockets[i], buffer, sizeof buffer, 0) >= 0) {
            got = 1;
            zmq_getsockopt(sockets[i], ZMQ_RCVMORE, &more, &size);
        }
        answered += got;
    }
    printf("ready %d\n", answered);
    fflush(stdout);
    sleep((unsigned)seconds);
    for (int i = 0; i < n; i++) { int zero = 0; zmq_setsockopt(sockets[i], ZMQ_LINGER, &zero, sizeof zero); zmq_close(sockets[i]); }
    zmq_ctx_term(ctx);
    return answered == n ? 0 : 1;
}
