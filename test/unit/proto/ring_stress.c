/*
 * Two-thread stress test of the SPSC ring: a producer and a consumer pass
 * COUNT variable-size messages (each carrying its sequence number and a
 * pattern derived from it) through a small ring; the consumer checks there
 * is no loss, duplication, reordering or corruption. Both sides sleep on
 * semaphores with the ring's arm / re-check / sleep protocol, so a lost
 * wake-up hangs the test (and ctest's timeout fails it).
 *
 * usage: ring_stress [COUNT [RING_DATA_BYTES [MAX_MSG_BYTES]]]
 * Built three ways: with ASan/UBSan and with TSan (make check, smaller
 * counts) and optimised without sanitizers (scripts/bench.d/proto.sh, tens
 * of millions).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <hv/ring.h>

static struct ring prod_side, cons_side;
static sem_t data_sem, room_sem;
static uint64_t count, max_msg;
static uint64_t producer_sleeps, consumer_sleeps, notifies_to_consumer, notifies_to_producer;

static uint32_t msg_len(uint64_t i)
{
    uint64_t h = i * 0x9e3779b97f4a7c15ull;
    uint32_t n = (uint32_t)((h >> 40) % (max_msg - 7)) + 8;
    return n;
}

static void fill(uint64_t i, uint8_t *p, uint32_t n)
{
    memcpy(p, &i, 8);
    for (uint32_t k = 8; k < n; k++)
        p[k] = (uint8_t)(i + k);
}

/* Retries before sleeping, as a real driver would poll briefly. */
#define SPIN_TRIES 50

static void sem_wait_retry(sem_t *s)
{
    while (sem_wait(s) != 0 && errno == EINTR)
        ;
}

static void *producer(void *arg)
{
    uint8_t *msg = malloc(max_msg);
    for (uint64_t i = 0; i < count; i++) {
        uint32_t n = msg_len(i);
        fill(i, msg, n);
        for (unsigned spins = 0;; spins++) {
            bool notify;
            enum ring_status st = ring_write(&prod_side, msg, n, &notify);
            if (st == RING_OK) {
                if (notify) {
                    notifies_to_consumer++;
                    sem_post(&data_sem);
                }
                break;
            }
            if (st != RING_FULL) {
                fprintf(stderr, "ring_write: status %d at message %llu\n", st,
                        (unsigned long long)i);
                exit(1);
            }
            if (spins < SPIN_TRIES) {
                __builtin_ia32_pause();
                continue;
            }
            spins = 0;
            /* Sometimes get preempted between the failed write and arming,
             * as a domain can be: this widens the lost-wake-up window that
             * the re-check in prepare_sleep must close. */
            if ((i & 3) == 0)
                sched_yield();
            if (ring_producer_prepare_sleep(&prod_side, n)) {
                producer_sleeps++;
                sem_wait_retry(&room_sem);
            }
        }
    }
    free(msg);
    return arg;
}

static void *consumer(void *arg)
{
    uint8_t *msg = malloc(max_msg), *want = malloc(max_msg);
    unsigned spins = 0;
    for (uint64_t i = 0; i < count;) {
        uint32_t n;
        bool notify;
        enum ring_status st = ring_read(&cons_side, msg, (uint32_t)max_msg, &n, &notify);
        if (st == RING_OK) {
            if (notify) {
                notifies_to_producer++;
                sem_post(&room_sem);
            }
            uint32_t wn = msg_len(i);
            fill(i, want, wn);
            if (n != wn || memcmp(msg, want, n) != 0) {
                uint64_t got;
                memcpy(&got, msg, 8);
                fprintf(stderr, "message %llu: got len %u seq %llu, want len %u\n",
                        (unsigned long long)i, n, (unsigned long long)got, wn);
                exit(1);
            }
            i++;
            spins = 0;
            continue;
        }
        if (st != RING_EMPTY) {
            fprintf(stderr, "ring_read: status %d at message %llu\n", st, (unsigned long long)i);
            exit(1);
        }
        if (++spins < SPIN_TRIES) {
            __builtin_ia32_pause();
            continue;
        }
        spins = 0;
        if ((i & 3) == 0)
            sched_yield(); /* as in the producer */
        if (ring_consumer_prepare_sleep(&cons_side)) {
            consumer_sleeps++;
            sem_wait_retry(&data_sem);
        }
    }
    /* nothing extra may follow */
    uint32_t n;
    bool notify;
    if (ring_read(&cons_side, msg, (uint32_t)max_msg, &n, &notify) != RING_EMPTY) {
        fprintf(stderr, "extra message after the last one\n");
        exit(1);
    }
    free(msg);
    free(want);
    return arg;
}

int main(int argc, char **argv)
{
    count = argc > 1 ? strtoull(argv[1], NULL, 0) : 1000000;
    uint64_t data_bytes = argc > 2 ? strtoull(argv[2], NULL, 0) : 4096;
    max_msg = argc > 3 ? strtoull(argv[3], NULL, 0) : 256;
    size_t shared_bytes = RING_HEADER_BYTES + data_bytes;
    void *shared = aligned_alloc(4096, (shared_bytes + 4095) & ~(size_t)4095);
    if (!shared || max_msg < 8 || !ring_format(shared, shared_bytes) ||
        !ring_attach_producer(&prod_side, shared, shared_bytes) ||
        !ring_attach_consumer(&cons_side, shared, shared_bytes) ||
        max_msg > ring_max_payload(&prod_side)) {
        fprintf(stderr, "bad parameters\n");
        return 2;
    }
    sem_init(&data_sem, 0, 0);
    sem_init(&room_sem, 0, 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_t pt, ct;
    pthread_create(&ct, NULL, consumer, NULL);
    pthread_create(&pt, NULL, producer, NULL);
    pthread_join(pt, NULL);
    pthread_join(ct, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("ring_stress: %llu messages (8..%llu bytes) through a %llu-byte ring in %.2f s "
           "(%.1f M msg/s); consumer slept %llu, producer slept %llu, notifications %llu/%llu\n",
           (unsigned long long)count, (unsigned long long)max_msg, (unsigned long long)data_bytes,
           s, (double)count / s / 1e6, (unsigned long long)consumer_sleeps,
           (unsigned long long)producer_sleeps, (unsigned long long)notifies_to_consumer,
           (unsigned long long)notifies_to_producer);
    printf("ring_stress: PASS\n");
    free(shared);
    return 0;
}
