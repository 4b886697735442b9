// What one thread waking another costs on this machine: two threads ping-pong through eventfds, each waiting in
// poll(2), which is how libzmq's I/O thread and an application thread hand every message to each other.
//   gcc -O2 -pthread -o /tmp/wake-cost benchmarks/wake-cost.c
//   /tmp/wake-cost -1              # the threads land wherever the scheduler puts them
//   taskset -c 0 /tmp/wake-cost -1 # both on one CPU: a wake-up is a plain context switch
//   /tmp/wake-cost 2000            # each wait with a timeout (arms a kernel timer per sleep)
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

static int ping_fd, pong_fd, timeout_ms;
static const int rounds = 20000;

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static void wait_for(int fd) {
    struct pollfd p = {fd, POLLIN, 0};
    uint64_t value;
    while (read(fd, &value, sizeof value) != sizeof value) poll(&p, 1, timeout_ms);
}

static void signal_fd(int fd) {
    uint64_t one = 1;
    if (write(fd, &one, sizeof one) != sizeof one) abort();
}

static void *echo(void *unused) {
    (void)unused;
    for (int i = 0; i < rounds; i++) {
        wait_for(ping_fd);
        signal_fd(pong_fd);
    }
    return NULL;
}

int main(int argc, char **argv) {
    timeout_ms = argc > 1 ? atoi(argv[1]) : -1;
    ping_fd = eventfd(0, EFD_NONBLOCK);
    pong_fd = eventfd(0, EFD_NONBLOCK);
    pthread_t thread;
    pthread_create(&thread, NULL, echo, NULL);
    double start = now_us();
    for (int i = 0; i < rounds; i++) {
        signal_fd(ping_fd);
        wait_for(pong_fd);
    }
    printf("poll timeout %d ms: %.1f us per round trip (two wake-ups)\n", timeout_ms, (now_us() - start) / rounds);
    pthread_join(thread, NULL);
    return 0;
}
