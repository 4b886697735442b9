// What the two system calls behind a libzmq "anything for me?" check cost on this machine: getpid (libzmq's fork
// check before each use of a socket's mailbox) and a zero-timeout poll(2) of one eventfd (the mailbox itself).
//   gcc -O2 -o /tmp/syscall-cost benchmarks/syscall-cost.c && /tmp/syscall-cost
#define _GNU_SOURCE
#include <poll.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(void)
{
    const int calls = 1000000;
    double start = now_ns();
    for (int i = 0; i < calls; i++) {
        syscall(SYS_getpid); // not glibc's getpid(), which some versions answered from a cache
    }
    double getpid_ns = (now_ns() - start) / calls;

    struct pollfd item = { .fd = eventfd(0, EFD_NONBLOCK), .events = POLLIN };
    start = now_ns();
    for (int i = 0; i < calls; i++) {
        poll(&item, 1, 0);
    }
    double poll_ns = (now_ns() - start) / calls;

    printf("getpid %.0f ns, poll of one eventfd with a zero timeout %.0f ns\n", getpid_ns, poll_ns);
    return 0;
}
