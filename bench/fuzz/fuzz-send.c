/* The fuzzer's frame sender (bench/fuzz): compiled by bench/fuzz/sender.ts with `cc -O2` into the lab's
 * temp dir and run inside a lab node. Sends whole Ethernet frames on one interface through an
 * AF_PACKET socket (so IP headers go out exactly as written: wrong lengths, checksums, versions),
 * in batches with sendmmsg, paced to PPS frames per second.
 *
 *   fuzz-send IFNAME FILE PPS            every frame of FILE once, in order
 *   fuzz-send IFNAME FILE PPS SECONDS    FILE's frames round and round for SECONDS (the flood)
 *
 * FILE: records of [u16 little-endian length][frame bytes]. Prints one JSON line on stdout:
 * {"sent":N,"errors":E,"seconds":S} (errors: frames sendmmsg refused; they are not retried). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>

#define BATCH 32

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void sleep_until(double t) {
  struct timespec ts = {(time_t)t, (long)((t - (time_t)t) * 1e9)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {}
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: fuzz-send IFNAME FILE PPS [SECONDS]\n");
    return 2;
  }
  double pps = atof(argv[3]);
  double seconds = argc > 4 ? atof(argv[4]) : 0;
  FILE *f = fopen(argv[2], "rb");
  if (!f) { perror("open"); return 1; }
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *data = malloc(size > 0 ? size : 1);
  if (size > 0 && fread(data, 1, size, f) != (size_t)size) { perror("read"); return 1; }
  fclose(f);
  size_t n = 0;
  for (long at = 0; at + 2 <= size; n++) at += 2 + (data[at] | data[at + 1] << 8);
  struct iovec *iov = calloc(n ? n : 1, sizeof *iov);
  long at = 0;
  for (size_t i = 0; i < n; i++) {
    size_t len = data[at] | data[at + 1] << 8;
    iov[i].iov_base = data + at + 2;
    iov[i].iov_len = len;
    at += 2 + len;
  }
  int ifindex = if_nametoindex(argv[1]);
  if (!ifindex) { perror("if_nametoindex"); return 1; }
  int fd = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_ALL));
  if (fd < 0) { perror("socket"); return 1; }
  int sndbuf = 4 << 20;
  setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_ifindex = ifindex;
  sll.sll_halen = ETH_ALEN;
  struct mmsghdr msgs[BATCH];
  unsigned long long sent = 0, errors = 0, next = 0;
  double t0 = now();
  for (;;) {
    if (seconds > 0 ? now() - t0 >= seconds : next >= n) break;
    if (n == 0) break;
    int k = 0;
    memset(msgs, 0, sizeof msgs);
    while (k < BATCH && (seconds > 0 || next + k < n)) {
      struct iovec *v = &iov[(next + k) % n];
      memcpy(sll.sll_addr, v->iov_base, ETH_ALEN);
      msgs[k].msg_hdr.msg_name = &sll;
      msgs[k].msg_hdr.msg_namelen = sizeof sll;
      msgs[k].msg_hdr.msg_iov = v;
      msgs[k].msg_hdr.msg_iovlen = 1;
      k++;
    }
    int done = 0;
    while (done < k) {
      int r = sendmmsg(fd, msgs + done, k - done, 0);
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno == ENOBUFS || errno == EAGAIN) { struct timespec ts = {0, 50000}; nanosleep(&ts, NULL); continue; }
        errors++; /* this frame is refused (e.g. too short); go on with the next */
        done++;
        continue;
      }
      sent += r;
      done += r;
    }
    next += k;
    if (pps > 0) sleep_until(t0 + (double)(sent + errors) / pps);
  }
  printf("{\"sent\":%llu,\"errors\":%llu,\"seconds\":%.3f}\n", sent, errors, now() - t0);
  return 0;
}
