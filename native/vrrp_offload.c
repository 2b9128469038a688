/*
 * vrrp_offload: VRRP's steady state without waking JavaScript. A master sends the same advert every
 * interval and a backup hears the same advert every interval, for hours; keepalived does that in a
 * few microseconds of C per advert, a Node event loop wakes ten times a second for it. This addon
 * owns one interface's VRRP traffic on a thread of its own and carries out, to the letter, what the
 * state machine (src/vrrp/fsm.ts) already decided; it decides nothing. src/vrrp/offload.ts is its
 * contract in TypeScript and says when the election hands a rule over and how it takes it back.
 *
 *   open(ifname, ifindex, onEvents, rtPriority) -> handle
 *       A raw IPv4 socket for protocol 112 configured as src/vrrp/transport.ts configures raw-socket's
 *       (IP_HDRINCL, SO_BINDTODEVICE, no multicast loop, TTL 255, 224.0.0.18 joined on the interface),
 *       a netlink request socket, a send-only AF_PACKET socket, and the thread. Every datagram the
 *       socket receives that no rule absorbs is handed to onEvents(list) on the JS thread, in order,
 *       as a Buffer (while MAX_QUEUED_BYTES wait for JS, further ones are dropped and counted); a rule that
 *       ended by itself is announced in the same list as its key (a number).
 *       rtPriority 1..99: the thread asks for SCHED_FIFO at that priority (keepalived's
 *       vrrp_rt_priority), so a busy or collecting JS thread, or any other normal process, cannot
 *       delay an advert; it blocks in ppoll between sends and pauses after each read (RX_PAUSE_MS),
 *       so it never holds a CPU, even under a flood. Refused
 *       (no CAP_SYS_NICE and RLIMIT_RTPRIO below it), it runs as a normal thread and stats() says
 *       why. 0: a normal thread.
 *   send(handle, key, datagrams[], dsts[], ipId, delayMs, intervalMs)
 *       Rule "send": the advert (one datagram per destination, IP header included) leaves in delayMs
 *       (negative: overdue, at once), then every intervalMs on that grid, each datagram with the next IP id (1..0xffff, as AdvertEncoder) and its
 *       header checksum. Sends missed by a late thread are skipped (the cadence stays on its grid).
 *       A failing sendto ends the rule (JS takes over and reports the failure as it always does).
 *   absorb(handle, key, expected, downMs, delayMs, takeover | null)
 *       Rule "absorb": a datagram equal to `expected` (same IP version/length, TTL, protocol, source,
 *       destination and VRRP bytes; IP id, TOS and checksum may differ) is counted and re-arms the
 *       deadline to downMs from its arrival (the first deadline is delayMs from now). Any other
 *       datagram for the same VRID ends the rule (JS decides about it). When the deadline passes, the
 *       rule ends; with a takeover plan { adverts[], dsts[], ipId, netlink[], frames[], ifindex } it
 *       first sends the adverts, sends each netlink request (adding the VIPs) and reads its ack, and
 *       sends each Ethernet frame (a gratuitous ARP) on ifindex — the same milliseconds keepalived
 *       takes, before the JS thread has even woken up.
 *   stop(handle, key) -> report | null
 *       Ends the rule (if it is still running) and removes it: { ended, count, lastAgoMs, nextIpId,
 *       nextInMs, firedAgoMs, tookOver, error, nlError }. `ended` says how it had ended before this
 *       call: 0 still running, 1 deadline passed, 2 another datagram for the VRID, 3 send failed,
 *       4 the lease lapsed.
 *       Ages are ms before now (−1: never); nextInMs is when a send rule's next advert was due.
 *   peek(handle, key) -> the same report | null (the rule stays)
 *   lease(handle, ms)
 *       Every rule ends (ended 4) unless lease() is called again within ms: a JS event loop that is
 *       stuck must not leave a thread advertising (or taking over) on its behalf. No lease until the
 *       first call; after it, send() and absorb() renew it as well.
 *   stats(handle) -> { received, absorbed, forwarded, sent, sendErrors, queueDrops, rtPriority, rtError }
 *       queueDrops: datagrams dropped because MAX_QUEUED_BYTES were already waiting for JS.
 *       rtPriority: the SCHED_FIFO priority the thread runs at (0: normal scheduling); rtError: why
 *       the one asked for was refused (null: it was not).
 *   close(handle)
 *
 * Times are relative (ms from now, ms ago), so this file and the JS scheduler need no shared clock;
 * here it is CLOCK_MONOTONIC. One mutex guards the rules; the thread holds it while it sends, so a
 * stop() returns either before a deadline fired or with everything the firing did. Errors are thrown
 * as in native/addon_common.h. Linux only; elsewhere open() throws ENOTSUP.
 */
#define _GNU_SOURCE /* ppoll */
#define ADDON_NAME "vrrp_offload"
#include "addon_common.h"
#include <stdint.h>
#include <stdlib.h>

#ifdef __linux__
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>

#define IPPROTO_VRRP_ 112
#define RULE_SEND 1
#define RULE_ABSORB 2
#define ENDED_NO 0
#define ENDED_DEADLINE 1
#define ENDED_MISMATCH 2
#define ENDED_SEND_ERROR 3
#define ENDED_LEASE 4
#define MAX_DATAGRAM 65536
/* Datagrams read per recvmmsg, and the room for each: a VRRP advert is at most 20 + 8 + 255 × 4 bytes,
 * anything longer reaches JS cut short and is dropped there (its IP length no longer matches). */
#define RX_BATCH 32
#define RX_SLOT 4096
/* A send this close to its time goes now: ppoll wakes a little late or early by the timer slack. */
#define EARLY_MS 0.05
/* After a read the thread leaves the socket alone for RX_PAUSE_MS (its timers and JS's requests still
 * wake it on time): what arrives meanwhile is read in one batch, up to RX_ROUNDS × RX_BATCH
 * datagrams. Without the pause a realtime thread wakes, and wakes JS, for every datagram that
 * arrives; with it, at most a thousand times a second, and a flood cannot hold a CPU (the kernel drops
 * what its buffer cannot hold, as it would for keepalived). A received advert is handled up to
 * RX_PAUSE_MS late: against a Master_Down_Interval of 30 ms or more, noise. */
#define RX_ROUNDS 8
#define RX_PAUSE_MS 1.0
/* Bytes of datagrams queued for JS at most (8 MiB: over 80 000 adverts; the event loop catches up
 * on a burst or a GC pause well within it). A JS thread that falls behind for good (a flood) does not
 * make this one allocate without bound: a datagram that would go beyond it is dropped here and
 * counted (queueDrops), not forwarded. Ended rules are always queued. */
#define MAX_QUEUED_BYTES (8u << 20)

typedef struct {
  uint8_t *buf;
  uint32_t len;
  uint32_t dst; /* network order */
} dgram_t;

typedef struct {
  uint8_t **buf;
  uint32_t *len;
  int n;
} bufs_t;

typedef struct rule {
  uint32_t key;
  int kind;
  int ended;
  int error;   /* errno of a failed send */
  int nlerror; /* first errno a takeover's netlink request answered (EEXIST is not one) */
  /* send: the advert; absorb: the takeover adverts */
  dgram_t *d;
  int nd;
  uint16_t ipid;
  double next, interval; /* send */
  uint32_t count;        /* adverts sent / absorbed */
  double last;           /* time of the last one, −1 none */
  /* absorb */
  uint8_t vrid;
  uint8_t *expect;
  uint32_t expect_len;
  double down, deadline, fired;
  int took_over;
  bufs_t nl, frames;
  int frame_ifindex;
} rule_t;

typedef struct event {
  struct event *next;
  uint32_t key; /* an ended rule, when data == NULL */
  uint8_t *data;
  uint32_t len;
} event_t;

typedef struct offload {
  pthread_mutex_t mu;
  pthread_t thread;
  int thread_started;
  int efd, raw, nl, pkt;
  rule_t **rules;
  int nrules, cap;
  event_t *head, *tail;
  int call_pending;
  int stopping;
  int closed;
  double lease_until; /* every rule ends once this passes (0: no lease) */
  double lease_ms;    /* the last lease(): a new rule renews it too (JS is alive when it makes one) */
  int refs; /* the JS handle and the tsfn: the last one finalized frees this (both on the JS thread) */
  napi_threadsafe_function tsfn;
  double received, absorbed, forwarded, sent, send_errors, queue_drops;
  uint32_t queued; /* bytes of the datagrams in the event list */
  int rt_priority, rt_error; /* the thread's SCHED_FIFO priority (0: normal); errno of a refused one */
  uint32_t nlseq;
  uint8_t rx[RX_BATCH][RX_SLOT];
  struct mmsghdr rxmsg[RX_BATCH];
  struct iovec rxiov[RX_BATCH];
} offload_t;

static double mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* ---- rules ---------------------------------------------------------------------------------- */

static void free_bufs(bufs_t *b) {
  for (int i = 0; i < b->n; i++) free(b->buf[i]);
  free(b->buf);
  free(b->len);
  b->buf = NULL;
  b->len = NULL;
  b->n = 0;
}

static void free_rule(rule_t *r) {
  if (!r) return;
  for (int i = 0; i < r->nd; i++) free(r->d[i].buf);
  free(r->d);
  free(r->expect);
  free_bufs(&r->nl);
  free_bufs(&r->frames);
  free(r);
}

static int find_rule(offload_t *o, uint32_t key) {
  for (int i = 0; i < o->nrules; i++)
    if (o->rules[i]->key == key) return i;
  return -1;
}

static int add_rule(offload_t *o, rule_t *r) {
  if (o->nrules == o->cap) {
    int cap = o->cap ? o->cap * 2 : 16;
    rule_t **grown = realloc(o->rules, sizeof *grown * (size_t)cap);
    if (!grown) return 0;
    o->rules = grown;
    o->cap = cap;
  }
  o->rules[o->nrules++] = r;
  return 1;
}

static void remove_rule_at(offload_t *o, int i) {
  free_rule(o->rules[i]);
  o->rules[i] = o->rules[--o->nrules];
}

/* ---- events to the JS thread ------------------------------------------------------------------ */

/* Queues one event (mutex held); the thread calls flush() once it let go of the mutex. */
static void push_event(offload_t *o, uint32_t key, const uint8_t *data, uint32_t len) {
  event_t *e = calloc(1, sizeof *e);
  if (!e) return;
  e->key = key;
  if (data) {
    e->data = malloc(len ? len : 1);
    if (!e->data) {
      free(e);
      return;
    }
    memcpy(e->data, data, len);
    e->len = len;
    o->queued += len;
  }
  if (o->tail) o->tail->next = e;
  else o->head = e;
  o->tail = e;
}

static void flush(offload_t *o) {
  pthread_mutex_lock(&o->mu);
  int call = o->head && !o->call_pending;
  if (call) o->call_pending = 1;
  pthread_mutex_unlock(&o->mu);
  if (call && napi_call_threadsafe_function(o->tsfn, o, napi_tsfn_nonblocking) != napi_ok) {
    pthread_mutex_lock(&o->mu);
    o->call_pending = 0; /* closing: nobody listens any more */
    pthread_mutex_unlock(&o->mu);
  }
}

static void free_events(event_t *e) {
  while (e) {
    event_t *next = e->next;
    free(e->data);
    free(e);
    e = next;
  }
}

/* On the JS thread: hands every queued event to onEvents([...]). */
static void call_js(napi_env env, napi_value cb, void *context, void *data) {
  (void)context;
  offload_t *o = data;
  pthread_mutex_lock(&o->mu);
  event_t *list = o->head;
  o->head = o->tail = NULL;
  o->queued = 0;
  o->call_pending = 0;
  int closed = o->closed;
  pthread_mutex_unlock(&o->mu);
  if (env == NULL || closed) {
    free_events(list);
    return;
  }
  napi_value arr, undef;
  napi_create_array(env, &arr);
  uint32_t i = 0;
  for (event_t *e = list; e; e = e->next) {
    napi_value v;
    if (e->data) {
      void *copy;
      napi_create_buffer_copy(env, e->len, e->data, &copy, &v);
    } else {
      napi_create_uint32(env, e->key, &v);
    }
    napi_set_element(env, arr, i++, v);
  }
  free_events(list);
  napi_get_undefined(env, &undef);
  napi_call_function(env, undef, cb, 1, &arr, NULL);
}

/* ---- what the thread does ------------------------------------------------------------------ */

static uint16_t ip_checksum(const uint8_t *h, int len) {
  uint32_t sum = 0;
  for (int i = 0; i + 1 < len; i += 2) sum += (uint32_t)(h[i] << 8 | h[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

/* Sends one advert (every destination), each datagram with the next IP id. 0, or the errno. */
static int send_advert(offload_t *o, dgram_t *d, int nd, uint16_t *ipid) {
  for (int i = 0; i < nd; i++) {
    uint8_t *b = d[i].buf;
    uint16_t id = *ipid;
    *ipid = id >= 0xffff ? 1 : (uint16_t)(id + 1);
    b[4] = (uint8_t)(id >> 8);
    b[5] = (uint8_t)id;
    b[10] = b[11] = 0;
    uint16_t sum = ip_checksum(b, (b[0] & 0x0f) * 4);
    b[10] = (uint8_t)(sum >> 8);
    b[11] = (uint8_t)sum;
    struct sockaddr_in to;
    memset(&to, 0, sizeof to);
    to.sin_family = AF_INET;
    to.sin_addr.s_addr = d[i].dst;
    if (sendto(o->raw, b, d[i].len, 0, (struct sockaddr *)&to, sizeof to) < 0) {
      o->send_errors++;
      return errno;
    }
    o->sent++;
  }
  return 0;
}

/* Sends one rtnetlink request and reads its ack: 0, or the errno it answered (EEXIST counts as 0). */
static int netlink_request(offload_t *o, uint8_t *msg, uint32_t len) {
  if (len < sizeof(struct nlmsghdr)) return EINVAL;
  struct nlmsghdr *h = (struct nlmsghdr *)msg;
  h->nlmsg_seq = ++o->nlseq;
  h->nlmsg_flags |= NLM_F_ACK;
  struct sockaddr_nl kernel;
  memset(&kernel, 0, sizeof kernel);
  kernel.nl_family = AF_NETLINK;
  if (sendto(o->nl, msg, len, 0, (struct sockaddr *)&kernel, sizeof kernel) < 0) return errno;
  uint8_t buf[4096];
  for (;;) {
    ssize_t n = recv(o->nl, buf, sizeof buf, 0); /* the kernel answered inside sendto: no wait */
    if (n < 0) return errno;
    for (struct nlmsghdr *a = (struct nlmsghdr *)buf; NLMSG_OK(a, (size_t)n); a = NLMSG_NEXT(a, n)) {
      if (a->nlmsg_seq != o->nlseq || a->nlmsg_type != NLMSG_ERROR) continue;
      int err = -((struct nlmsgerr *)NLMSG_DATA(a))->error;
      return err == EEXIST ? 0 : err;
    }
  }
}

static void send_frames(offload_t *o, rule_t *r) {
  for (int i = 0; i < r->frames.n; i++) {
    const uint8_t *f = r->frames.buf[i];
    if (r->frames.len[i] < ETH_HLEN) continue;
    struct sockaddr_ll to;
    memset(&to, 0, sizeof to);
    to.sll_family = AF_PACKET;
    to.sll_ifindex = r->frame_ifindex;
    to.sll_protocol = htons((unsigned short)(f[12] << 8 | f[13]));
    to.sll_halen = ETH_ALEN;
    memcpy(to.sll_addr, f, ETH_ALEN);
    sendto(o->pkt, f, r->frames.len[i], 0, (struct sockaddr *)&to, sizeof to);
  }
}

/* The Master_Down deadline passed (mutex held): carry out the takeover plan, if any, and end. */
static void fire(offload_t *o, rule_t *r, double now) {
  r->fired = now;
  r->ended = ENDED_DEADLINE;
  if (r->nd > 0 || r->nl.n > 0 || r->frames.n > 0) {
    r->error = send_advert(o, r->d, r->nd, &r->ipid);
    for (int i = 0; i < r->nl.n; i++) {
      int err = netlink_request(o, r->nl.buf[i], r->nl.len[i]);
      if (err && !r->nlerror) r->nlerror = err;
    }
    if (!r->nlerror) send_frames(o, r); /* never announce an address that is not there */
    r->took_over = 1;
  }
  push_event(o, r->key, NULL, 0);
}

/* Due sends and passed deadlines (mutex held); returns the ms until the next one (−1: none). */
static double run_timers(offload_t *o, double now) {
  double next = -1;
  int lapsed = o->lease_until > 0 && now >= o->lease_until;
  for (int i = 0; i < o->nrules; i++) {
    rule_t *r = o->rules[i];
    if (r->ended) continue;
    if (lapsed) {
      /* JS has not renewed the lease: its loop is stuck. Act on nothing it decided any more. */
      r->ended = ENDED_LEASE;
      push_event(o, r->key, NULL, 0);
      continue;
    }
    if (o->lease_until > 0 && (next < 0 || o->lease_until - now < next)) next = o->lease_until - now;
    if (r->kind == RULE_SEND) {
      if (r->next <= now + EARLY_MS) {
        int err = send_advert(o, r->d, r->nd, &r->ipid);
        if (err) {
          r->error = err;
          r->ended = ENDED_SEND_ERROR;
          push_event(o, r->key, NULL, 0);
          continue;
        }
        r->count++;
        r->last = now;
        do r->next += r->interval;
        while (r->next <= now); /* late by an interval or more: skip, keep the grid */
      }
      double in = r->next - now;
      if (next < 0 || in < next) next = in;
    } else if (r->kind == RULE_ABSORB) {
      if (r->deadline <= now + EARLY_MS) {
        fire(o, r, now);
        continue;
      }
      double in = r->deadline - now;
      if (next < 0 || in < next) next = in;
    }
  }
  return next;
}

/* Equal to what JS accepted, where it matters (see the header). */
static int same_advert(const uint8_t *a, uint32_t alen, const uint8_t *b, uint32_t blen) {
  if (alen != blen || alen < 20) return 0;
  int hl = (a[0] & 0x0f) * 4;
  if (a[0] != b[0] || a[2] != b[2] || a[3] != b[3] || a[8] != b[8] || a[9] != b[9]) return 0;
  if (memcmp(a + 12, b + 12, 8) != 0) return 0;
  return hl <= (int)alen && memcmp(a + hl, b + hl, alen - (uint32_t)hl) == 0;
}

/* One received datagram (mutex held): absorbed by a rule, or queued for JS. */
static void receive(offload_t *o, const uint8_t *b, uint32_t len, double now) {
  o->received++;
  int vrid = -1;
  if (len >= 20 && (b[0] >> 4) == 4) {
    uint32_t hl = (uint32_t)(b[0] & 0x0f) * 4;
    if (hl >= 20 && len >= hl + 2 && b[9] == IPPROTO_VRRP_) vrid = b[hl + 1];
  }
  if (vrid >= 0) {
    for (int i = 0; i < o->nrules; i++) {
      rule_t *r = o->rules[i];
      if (r->kind != RULE_ABSORB || r->ended || r->vrid != vrid) continue;
      if (same_advert(r->expect, r->expect_len, b, len)) {
        r->count++;
        r->last = now;
        r->deadline = now + r->down;
        o->absorbed++;
        return;
      }
    }
    for (int i = 0; i < o->nrules; i++) {
      rule_t *r = o->rules[i];
      if (r->kind != RULE_ABSORB || r->ended || r->vrid != vrid) continue;
      r->ended = ENDED_MISMATCH;
      push_event(o, r->key, NULL, 0);
    }
  }
  if (o->queued + len > MAX_QUEUED_BYTES) o->queue_drops++;
  else {
    o->forwarded++;
    push_event(o, 0, b, len);
  }
}

static void *thread_main(void *arg) {
  offload_t *o = arg;
  int paused = 0; /* the last wake-up read datagrams: skip the socket for RX_PAUSE_MS */
  for (;;) {
    pthread_mutex_lock(&o->mu);
    if (o->stopping) {
      pthread_mutex_unlock(&o->mu);
      break;
    }
    double wait = run_timers(o, mono_ms());
    pthread_mutex_unlock(&o->mu);
    flush(o);

    struct pollfd fds[2] = {{o->efd, POLLIN, 0}, {o->raw, POLLIN, 0}};
    struct timespec ts, *tsp = NULL;
    if (paused && (wait < 0 || wait > RX_PAUSE_MS)) wait = RX_PAUSE_MS;
    if (wait >= 0) {
      ts.tv_sec = (time_t)(wait / 1e3);
      ts.tv_nsec = (long)((wait - (double)ts.tv_sec * 1e3) * 1e6);
      tsp = &ts;
    }
    if (ppoll(fds, paused ? 1 : 2, tsp, NULL) < 0 && errno != EINTR) {
      struct timespec pause = {0, 10 * 1000 * 1000}; /* never spin */
      nanosleep(&pause, NULL);
    }
    if (fds[0].revents & POLLIN) {
      uint64_t v;
      if (read(o->efd, &v, sizeof v) < 0) { /* nothing to do: the eventfd only wakes us */ }
    }
    if (paused) {
      paused = 0; /* paused once: read again */
    } else if (fds[1].revents & POLLIN) {
      /* One syscall for everything queued (a backup of 200 instances gets 200 adverts at once). */
      for (int round = 0; round < RX_ROUNDS; round++) {
        for (int i = 0; i < RX_BATCH; i++) {
          o->rxiov[i].iov_base = o->rx[i];
          o->rxiov[i].iov_len = RX_SLOT;
          memset(&o->rxmsg[i].msg_hdr, 0, sizeof o->rxmsg[i].msg_hdr);
          o->rxmsg[i].msg_hdr.msg_iov = &o->rxiov[i];
          o->rxmsg[i].msg_hdr.msg_iovlen = 1;
        }
        int got = recvmmsg(o->raw, o->rxmsg, RX_BATCH, MSG_DONTWAIT, NULL);
        if (got <= 0) break;
        paused = 1;
        double now = mono_ms();
        pthread_mutex_lock(&o->mu);
        for (int i = 0; i < got; i++) receive(o, o->rx[i], o->rxmsg[i].msg_len > RX_SLOT ? RX_SLOT : o->rxmsg[i].msg_len, now);
        pthread_mutex_unlock(&o->mu);
        if (got < RX_BATCH) break;
      }
    }
  }
  return NULL;
}

static void wake(offload_t *o) {
  uint64_t one = 1;
  if (write(o->efd, &one, sizeof one) < 0) { /* the counter is full: the thread is awake anyway */ }
}

/* ---- JS API ------------------------------------------------------------------------------------ */

static void close_fds(offload_t *o) {
  if (o->efd >= 0) close(o->efd);
  if (o->raw >= 0) close(o->raw);
  if (o->nl >= 0) close(o->nl);
  if (o->pkt >= 0) close(o->pkt);
  o->efd = o->raw = o->nl = o->pkt = -1;
}

static void unref(offload_t *o) {
  if (--o->refs > 0) return;
  for (int i = 0; i < o->nrules; i++) free_rule(o->rules[i]);
  free(o->rules);
  free_events(o->head);
  pthread_mutex_destroy(&o->mu);
  free(o);
}

static void tsfn_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  unref(data);
}

static void do_close(offload_t *o);

/* The JS handle was garbage-collected: close (if the caller forgot) and let go. */
static void handle_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  do_close(data);
  unref(data);
}

static void do_close(offload_t *o) {
  if (o->closed) return;
  pthread_mutex_lock(&o->mu);
  o->stopping = 1;
  o->closed = 1;
  pthread_mutex_unlock(&o->mu);
  if (o->thread_started) {
    wake(o);
    pthread_join(o->thread, NULL);
  }
  close_fds(o);
  napi_release_threadsafe_function(o->tsfn, napi_tsfn_abort); /* then tsfn_finalize */
}

static offload_t *get_handle(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || !p) {
    napi_throw_type_error(env, NULL, ADDON_NAME ": not a handle");
    return NULL;
  }
  offload_t *o = p;
  if (o->closed) {
    napi_throw_error(env, "EBADF", ADDON_NAME ": handle is closed");
    return NULL;
  }
  return o;
}

static int setopt(int fd, int level, int opt, const void *v, socklen_t len, const char *what, napi_env env) {
  if (setsockopt(fd, level, opt, v, len) == 0) return 1;
  throw_errno(env, what, errno);
  return 0;
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  napi_value argv[4], result, name;
  char ifname[IF_NAMESIZE + 1];
  size_t n = 0;
  int32_t ifindex, rt_priority;
  if (!get_args(env, info, 4, argv)) return NULL;
  if (napi_get_value_string_utf8(env, argv[0], ifname, sizeof ifname, &n) != napi_ok || n == 0 || n >= IF_NAMESIZE) {
    napi_throw_type_error(env, NULL, ADDON_NAME ": bad interface name");
    return NULL;
  }
  if (!get_int(env, argv[1], "ifindex", &ifindex) || !get_int(env, argv[3], "rtPriority", &rt_priority)) return NULL;
  if (rt_priority < 0 || rt_priority > 99) {
    type_error(env, "rtPriority", "0..99");
    return NULL;
  }
  offload_t *o = calloc(1, sizeof *o);
  if (!o) return throw_errno(env, "calloc", ENOMEM);
  o->efd = o->raw = o->nl = o->pkt = -1;
  pthread_mutex_init(&o->mu, NULL);

  o->raw = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_VRRP_);
  if (o->raw < 0) {
    int err = errno;
    close_fds(o);
    free(o);
    return throw_errno(env, "socket(AF_INET, SOCK_RAW, 112)", err);
  }
  int on = 1, off = 0, ttl = 255, rcvbuf = 1 << 20;
  struct ip_mreqn ifreq, group;
  memset(&ifreq, 0, sizeof ifreq);
  ifreq.imr_ifindex = ifindex;
  memset(&group, 0, sizeof group);
  group.imr_multiaddr.s_addr = htonl(0xe0000012); /* 224.0.0.18 */
  group.imr_ifindex = ifindex;
  struct timeval nltimeout = {1, 0};
  if (!setopt(o->raw, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)n + 1, "SO_BINDTODEVICE", env) ||
      !setopt(o->raw, IPPROTO_IP, IP_HDRINCL, &on, sizeof on, "IP_HDRINCL", env) ||
      !setopt(o->raw, IPPROTO_IP, IP_MULTICAST_LOOP, &off, sizeof off, "IP_MULTICAST_LOOP", env) ||
      !setopt(o->raw, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl, "IP_MULTICAST_TTL", env) ||
      !setopt(o->raw, IPPROTO_IP, IP_MULTICAST_IF, &ifreq, sizeof ifreq, "IP_MULTICAST_IF", env) ||
      !setopt(o->raw, IPPROTO_IP, IP_ADD_MEMBERSHIP, &group, sizeof group, "IP_ADD_MEMBERSHIP", env) ||
      !setopt(o->raw, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf, "SO_RCVBUF", env)) {
    close_fds(o);
    free(o);
    return NULL;
  }
  o->nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  o->pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0); /* protocol 0: sends only */
  o->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (o->nl < 0 || o->pkt < 0 || o->efd < 0) {
    int err = errno;
    close_fds(o);
    free(o);
    return throw_errno(env, "socket(netlink / AF_PACKET) or eventfd", err);
  }
  struct sockaddr_nl local;
  memset(&local, 0, sizeof local);
  local.nl_family = AF_NETLINK;
  if (bind(o->nl, (struct sockaddr *)&local, sizeof local) < 0 ||
      !setopt(o->nl, SOL_SOCKET, SO_RCVTIMEO, &nltimeout, sizeof nltimeout, "SO_RCVTIMEO", env)) {
    int err = errno;
    close_fds(o);
    free(o);
    return throw_errno(env, "bind(netlink)", err);
  }
  napi_create_string_utf8(env, ADDON_NAME, NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env, argv[2], NULL, name, 0, 1, o, tsfn_finalize, NULL, call_js, &o->tsfn) != napi_ok) {
    close_fds(o);
    free(o);
    napi_throw_type_error(env, NULL, ADDON_NAME ": onEvents must be a function");
    return NULL;
  }
  napi_unref_threadsafe_function(env, o->tsfn); /* the thread alone never keeps the process alive */
  o->refs = 1; /* the tsfn's */
  int err = pthread_create(&o->thread, NULL, thread_main, o);
  if (err != 0) {
    o->closed = 1;
    close_fds(o);
    napi_release_threadsafe_function(o->tsfn, napi_tsfn_abort);
    return throw_errno(env, "pthread_create", err);
  }
  o->thread_started = 1;
  o->refs++;
  if (rt_priority > 0) {
    struct sched_param sp = {.sched_priority = rt_priority};
    int e = pthread_setschedparam(o->thread, SCHED_FIFO, &sp);
    if (e == 0) o->rt_priority = rt_priority;
    else o->rt_error = e;
  }
  napi_create_external(env, o, handle_finalize, NULL, &result);
  return result;
}

/* Copies a JS array of Buffers. */
static int get_bufs(napi_env env, napi_value arr, const char *what, bufs_t *out) {
  uint32_t n = 0;
  bool is_array = false;
  memset(out, 0, sizeof *out);
  if (napi_is_array(env, arr, &is_array) != napi_ok || !is_array || napi_get_array_length(env, arr, &n) != napi_ok)
    return type_error(env, what, "an array of Buffers");
  out->buf = calloc(n ? n : 1, sizeof *out->buf);
  out->len = calloc(n ? n : 1, sizeof *out->len);
  if (!out->buf || !out->len) {
    free_bufs(out);
    throw_errno(env, "calloc", ENOMEM);
    return 0;
  }
  for (uint32_t i = 0; i < n; i++) {
    napi_value v;
    void *data;
    size_t len;
    bool is_buffer = false;
    napi_get_element(env, arr, i, &v);
    napi_is_buffer(env, v, &is_buffer);
    if (!is_buffer || napi_get_buffer_info(env, v, &data, &len) != napi_ok || len > MAX_DATAGRAM) {
      free_bufs(out);
      return type_error(env, what, "an array of Buffers");
    }
    out->buf[i] = malloc(len ? len : 1);
    if (!out->buf[i]) {
      free_bufs(out);
      throw_errno(env, "malloc", ENOMEM);
      return 0;
    }
    memcpy(out->buf[i], data, len);
    out->len[i] = (uint32_t)len;
    out->n = (int)i + 1;
  }
  return 1;
}

/* The datagrams of one advert and their destinations (uint32, host order). */
static int get_adverts(napi_env env, napi_value arr, napi_value dsts, rule_t *r) {
  bufs_t b;
  if (!get_bufs(env, arr, "datagrams", &b)) return 0;
  uint32_t nd = 0;
  bool is_array = false;
  napi_is_array(env, dsts, &is_array);
  if (!is_array || napi_get_array_length(env, dsts, &nd) != napi_ok || nd != (uint32_t)b.n) {
    free_bufs(&b);
    napi_throw_type_error(env, NULL, ADDON_NAME ": one destination per datagram");
    return 0;
  }
  r->d = calloc(nd ? nd : 1, sizeof *r->d);
  if (!r->d) {
    free_bufs(&b);
    throw_errno(env, "calloc", ENOMEM);
    return 0;
  }
  for (uint32_t i = 0; i < nd; i++) {
    napi_value v;
    uint32_t dst = 0;
    napi_get_element(env, dsts, i, &v);
    napi_get_value_uint32(env, v, &dst);
    r->d[i].buf = b.buf[i];
    r->d[i].len = b.len[i];
    r->d[i].dst = htonl(dst);
    /* send_advert() checksums the header its first byte announces: it must be IPv4 and all there. */
    const uint8_t *h = b.buf[i];
    if (b.len[i] < 20 || (h[0] >> 4) != 4 || (h[0] & 0x0f) < 5 || (uint32_t)(h[0] & 0x0f) * 4 > b.len[i]) {
      for (uint32_t j = i + 1; j < nd; j++) free(b.buf[j]);
      r->nd = (int)i + 1;
      free(b.buf);
      free(b.len);
      napi_throw_range_error(env, NULL, ADDON_NAME ": a datagram without a whole IPv4 header");
      return 0;
    }
  }
  r->nd = (int)nd;
  free(b.buf);
  free(b.len);
  return 1;
}

/* A delay: negative means overdue (the first send, or the deadline, is due at once; a send rule's
 * cadence stays on its grid). */
static int get_delay(napi_env env, napi_value v, const char *name, double *out) {
  if (napi_get_value_double(env, v, out) == napi_ok && *out == *out && *out > -1e12 && *out < 1e12) return 1;
  return type_error(env, name, "a finite number");
}

static int get_double(napi_env env, napi_value v, const char *name, double *out) {
  if (napi_get_value_double(env, v, out) == napi_ok && *out >= 0) return 1;
  return type_error(env, name, "a number ≥ 0");
}

/* Installs a rule under the mutex, replacing one with the same key. */
static napi_value install(napi_env env, offload_t *o, rule_t *r) {
  pthread_mutex_lock(&o->mu);
  int i = find_rule(o, r->key);
  if (i >= 0) remove_rule_at(o, i);
  int ok = add_rule(o, r);
  if (o->lease_ms > 0) o->lease_until = mono_ms() + o->lease_ms;
  pthread_mutex_unlock(&o->mu);
  if (!ok) {
    free_rule(r);
    return throw_errno(env, "realloc", ENOMEM);
  }
  wake(o);
  napi_value undef;
  napi_get_undefined(env, &undef);
  return undef;
}

static napi_value js_send(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  uint32_t key;
  int32_t ipid;
  double delay, interval;
  if (!get_args(env, info, 7, argv)) return NULL;
  offload_t *o = get_handle(env, argv[0]);
  if (!o) return NULL;
  if (napi_get_value_uint32(env, argv[1], &key) != napi_ok) return throw_errno(env, "key", EINVAL);
  if (!get_int(env, argv[4], "ipId", &ipid) || !get_delay(env, argv[5], "delayMs", &delay) || !get_double(env, argv[6], "intervalMs", &interval)) return NULL;
  if (interval < 1) {
    napi_throw_range_error(env, NULL, ADDON_NAME ": intervalMs must be ≥ 1");
    return NULL;
  }
  rule_t *r = calloc(1, sizeof *r);
  if (!r) return throw_errno(env, "calloc", ENOMEM);
  r->key = key;
  r->kind = RULE_SEND;
  r->last = -1;
  r->ipid = (uint16_t)(ipid < 1 || ipid > 0xffff ? 1 : ipid);
  r->interval = interval;
  if (!get_adverts(env, argv[2], argv[3], r)) {
    free_rule(r);
    return NULL;
  }
  r->next = mono_ms() + delay;
  return install(env, o, r);
}

static napi_value js_absorb(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  uint32_t key;
  double down, delay;
  void *data;
  size_t len;
  bool is_buffer = false;
  if (!get_args(env, info, 6, argv)) return NULL;
  offload_t *o = get_handle(env, argv[0]);
  if (!o) return NULL;
  if (napi_get_value_uint32(env, argv[1], &key) != napi_ok) return throw_errno(env, "key", EINVAL);
  napi_is_buffer(env, argv[2], &is_buffer);
  if (!is_buffer || napi_get_buffer_info(env, argv[2], &data, &len) != napi_ok || len < 22 || len > MAX_DATAGRAM) {
    napi_throw_type_error(env, NULL, ADDON_NAME ": expected must be a VRRP datagram");
    return NULL;
  }
  const uint8_t *e = data;
  uint32_t hl = (uint32_t)(e[0] & 0x0f) * 4;
  if ((e[0] >> 4) != 4 || hl < 20 || len < hl + 2) {
    napi_throw_type_error(env, NULL, ADDON_NAME ": expected must be a VRRP datagram");
    return NULL;
  }
  if (!get_double(env, argv[3], "downMs", &down) || !get_delay(env, argv[4], "delayMs", &delay)) return NULL;
  rule_t *r = calloc(1, sizeof *r);
  if (!r) return throw_errno(env, "calloc", ENOMEM);
  r->key = key;
  r->kind = RULE_ABSORB;
  r->last = -1;
  r->fired = -1;
  r->down = down;
  r->vrid = e[hl + 1];
  r->expect = malloc(len);
  if (!r->expect) {
    free_rule(r);
    return throw_errno(env, "malloc", ENOMEM);
  }
  memcpy(r->expect, data, len);
  r->expect_len = (uint32_t)len;
  napi_valuetype t;
  napi_typeof(env, argv[5], &t);
  if (t == napi_object) {
    napi_value adverts, dsts, ipid, nl, frames, ifindex;
    int32_t id = 1, idx = 0;
    napi_get_named_property(env, argv[5], "adverts", &adverts);
    napi_get_named_property(env, argv[5], "dsts", &dsts);
    napi_get_named_property(env, argv[5], "ipId", &ipid);
    napi_get_named_property(env, argv[5], "netlink", &nl);
    napi_get_named_property(env, argv[5], "frames", &frames);
    napi_get_named_property(env, argv[5], "ifindex", &ifindex);
    if (!get_int(env, ipid, "takeover.ipId", &id) || !get_int(env, ifindex, "takeover.ifindex", &idx) ||
        !get_adverts(env, adverts, dsts, r) || !get_bufs(env, nl, "takeover.netlink", &r->nl) || !get_bufs(env, frames, "takeover.frames", &r->frames)) {
      free_rule(r);
      return NULL;
    }
    r->ipid = (uint16_t)(id < 1 || id > 0xffff ? 1 : id);
    r->frame_ifindex = idx;
  }
  r->deadline = mono_ms() + delay;
  return install(env, o, r);
}

static napi_value js_lease(napi_env env, napi_callback_info info) {
  napi_value argv[2], undef;
  double ms;
  if (!get_args(env, info, 2, argv)) return NULL;
  offload_t *o = get_handle(env, argv[0]);
  if (!o || !get_double(env, argv[1], "leaseMs", &ms)) return NULL;
  pthread_mutex_lock(&o->mu);
  o->lease_ms = ms;
  o->lease_until = mono_ms() + ms;
  pthread_mutex_unlock(&o->mu);
  wake(o);
  napi_get_undefined(env, &undef);
  return undef;
}

static napi_value set_num(napi_env env, napi_value obj, const char *name, double v) {
  napi_value n;
  napi_create_double(env, v, &n);
  napi_set_named_property(env, obj, name, n);
  return obj;
}

/* The report of a rule (mutex held). */
static napi_value report(napi_env env, rule_t *r, double now) {
  napi_value obj, err, took;
  napi_create_object(env, &obj);
  set_num(env, obj, "ended", r->ended);
  set_num(env, obj, "count", r->count);
  set_num(env, obj, "lastAgoMs", r->last < 0 ? -1 : now - r->last);
  set_num(env, obj, "nextIpId", r->ipid);
  set_num(env, obj, "nextInMs", r->kind == RULE_SEND ? r->next - now : 0);
  set_num(env, obj, "firedAgoMs", r->kind == RULE_ABSORB && r->fired >= 0 ? now - r->fired : -1);
  napi_get_boolean(env, r->took_over != 0, &took);
  napi_set_named_property(env, obj, "tookOver", took);
  if (r->error) napi_create_string_utf8(env, strerror(r->error), NAPI_AUTO_LENGTH, &err);
  else napi_get_null(env, &err);
  napi_set_named_property(env, obj, "error", err);
  if (r->nlerror) napi_create_string_utf8(env, strerror(r->nlerror), NAPI_AUTO_LENGTH, &err);
  else napi_get_null(env, &err);
  napi_set_named_property(env, obj, "nlError", err);
  return obj;
}

static napi_value stop_or_peek(napi_env env, napi_callback_info info, int stop) {
  napi_value argv[2], result;
  uint32_t key;
  if (!get_args(env, info, 2, argv)) return NULL;
  offload_t *o = get_handle(env, argv[0]);
  if (!o) return NULL;
  if (napi_get_value_uint32(env, argv[1], &key) != napi_ok) return throw_errno(env, "key", EINVAL);
  pthread_mutex_lock(&o->mu);
  int i = find_rule(o, key);
  if (i < 0) napi_get_null(env, &result);
  else {
    result = report(env, o->rules[i], mono_ms());
    if (stop) remove_rule_at(o, i);
  }
  pthread_mutex_unlock(&o->mu);
  return result;
}

static napi_value js_stop(napi_env env, napi_callback_info info) {
  return stop_or_peek(env, info, 1);
}

static napi_value js_peek(napi_env env, napi_callback_info info) {
  return stop_or_peek(env, info, 0);
}

static napi_value js_stats(napi_env env, napi_callback_info info) {
  napi_value argv[1], obj;
  if (!get_args(env, info, 1, argv)) return NULL;
  offload_t *o = get_handle(env, argv[0]);
  if (!o) return NULL;
  napi_create_object(env, &obj);
  pthread_mutex_lock(&o->mu);
  set_num(env, obj, "received", o->received);
  set_num(env, obj, "absorbed", o->absorbed);
  set_num(env, obj, "forwarded", o->forwarded);
  set_num(env, obj, "sent", o->sent);
  set_num(env, obj, "sendErrors", o->send_errors);
  set_num(env, obj, "queueDrops", o->queue_drops);
  set_num(env, obj, "rtPriority", o->rt_priority);
  pthread_mutex_unlock(&o->mu);
  napi_value why;
  if (o->rt_error) napi_create_string_utf8(env, strerror(o->rt_error), NAPI_AUTO_LENGTH, &why);
  else napi_get_null(env, &why);
  napi_set_named_property(env, obj, "rtError", why);
  return obj;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1], undef;
  void *p = NULL;
  if (!get_args(env, info, 1, argv)) return NULL;
  if (napi_get_value_external(env, argv[0], &p) == napi_ok && p) do_close(p);
  napi_get_undefined(env, &undef);
  return undef;
}

ADDON_MODULE(
  ADDON_METHOD("open", js_open),
  ADDON_METHOD("send", js_send),
  ADDON_METHOD("absorb", js_absorb),
  ADDON_METHOD("stop", js_stop),
  ADDON_METHOD("peek", js_peek),
  ADDON_METHOD("stats", js_stats),
  ADDON_METHOD("lease", js_lease),
  ADDON_METHOD("close", js_close)
)

#else /* not Linux */

static napi_value js_open(napi_env env, napi_callback_info info) {
  (void)info;
  return throw_errno(env, "the VRRP offload is Linux-only", ENOTSUP);
}

ADDON_MODULE(ADDON_METHOD("open", js_open))

#endif
