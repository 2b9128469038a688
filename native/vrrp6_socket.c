/*
 * vrrp6_socket: the VRRPv3-over-IPv6 socket (RFC 5798), which raw-socket cannot be: every received
 * advert must come with its hop limit (RFC 5798 §7.1: drop unless 255) and its destination address
 * (multicast vs unicast instance), i.e. recvmsg() ancillary data (IPV6_HOPLIMIT, IPV6_PKTINFO); and
 * each advert leaves from a chosen source address (link-local, or unicast.source) with hop limit 255
 * and traffic class 0xc0, as keepalived's. Bytes only: the VRRP message and its checksum (IPv6
 * pseudo-header) are built and checked in TypeScript (src/vrrp/ipv6.ts), so a bad checksum is seen and
 * counted there instead of being dropped silently by the kernel (no IPV6_CHECKSUM on this socket).
 *
 *   open(ifindex, ifname) -> fd  socket(AF_INET6, SOCK_RAW, 112), non-blocking, SO_BINDTODEVICE ifname,
 *                                IPV6_RECVHOPLIMIT + IPV6_RECVPKTINFO on, unicast and multicast hop
 *                                limit 255, IPV6_TCLASS 0xc0, IPV6_MULTICAST_IF ifindex, loop off,
 *                                joined to ff02::12 on ifindex, SO_RCVBUF 1 MiB
 *   send(fd, msg, dst, src, ifindex) -> bytes
 *                                sendmsg() of the VRRP message to dst (16-byte Buffer), from src
 *                                (16-byte Buffer; IN6_PKTINFO) out of ifindex (also the scope of a
 *                                link-local or multicast destination)
 *   watch(fd, rx, meta, cb(len)) polls fd on the libuv loop and drains it with recvmsg(): each
 *                                datagram goes into `rx` (a Buffer the caller owns and re-uses) and
 *                                its facts into `meta` (src 0..15, dst 16..31, hop limit int32 LE at
 *                                32 or -1 when absent, ifindex int32 LE at 36), then cb(len) runs; a
 *                                datagram longer than rx is cut, and cb gets its real length. The
 *                                poll handle is unref'd (a socket alone keeps nothing alive)
 *   close(fd)                    stops watching, closes
 *
 * Errors are thrown as JS Errors with .code = errno name; the argument helpers and the watcher list are
 * native/addon_common.h's. Needs CAP_NET_RAW. Linux only; elsewhere every call throws ENOTSUP.
 */
#define _GNU_SOURCE
#define ADDON_NAME "vrrp6_socket"
#define ADDON_WATCHERS
/* Where on_readable puts each datagram (rx) and its facts (meta): the caller's buffers (watcher keep[]). */
#define ADDON_WATCHER_FIELDS \
  unsigned char *rx;         \
  size_t rx_len;             \
  unsigned char *meta;
#include "addon_common.h"

#ifdef __linux__
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#endif

#define IPPROTO_VRRP_NUM 112

#ifdef __linux__

static void put_i32(unsigned char *at, int32_t v) {
  uint32_t u = (uint32_t)v;
  at[0] = u & 0xff;
  at[1] = (u >> 8) & 0xff;
  at[2] = (u >> 16) & 0xff;
  at[3] = (u >> 24) & 0xff;
}

/* At most this many datagrams per readiness event; the rest wait for the next turn of the loop. */
#define RECV_BATCH 64

static void on_readable(uv_poll_t *handle, int status, int events) {
  watcher_t *w = (watcher_t *)handle->data;
  (void)events;
  int fd = w->fd;
  if (status < 0) {
    clear_socket_error(fd); /* and poll again */
    uv_poll_start(&w->poll, UV_READABLE, on_readable);
  }
  napi_handle_scope scope;
  napi_open_handle_scope(w->env, &scope);
  for (int i = 0; i < RECV_BATCH && find_watcher(fd) == w; i++) {
    struct sockaddr_in6 from;
    char control[256];
    struct iovec iov = {w->rx, w->rx_len};
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_name = &from;
    mh.msg_namelen = sizeof from;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = control;
    mh.msg_controllen = sizeof control;
    ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) {
      if (errno == EINTR) continue;
      break; /* EAGAIN: drained (or an error the next poll reports) */
    }
    int32_t hoplimit = -1, ifindex = 0;
    memset(w->meta, 0, 40);
    memcpy(w->meta, &from.sin6_addr, 16);
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
      if (c->cmsg_level != IPPROTO_IPV6) continue;
      if (c->cmsg_type == IPV6_HOPLIMIT && c->cmsg_len >= CMSG_LEN(sizeof(int))) memcpy(&hoplimit, CMSG_DATA(c), sizeof(int));
      else if (c->cmsg_type == IPV6_PKTINFO && c->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
        struct in6_pktinfo pi;
        memcpy(&pi, CMSG_DATA(c), sizeof pi);
        memcpy(w->meta + 16, &pi.ipi6_addr, 16);
        ifindex = (int32_t)pi.ipi6_ifindex;
      }
    }
    put_i32(w->meta + 32, hoplimit);
    put_i32(w->meta + 36, ifindex);
    napi_value len;
    napi_create_int32(w->env, (int32_t)n, &len);
    call_js(w, len);
  }
  napi_close_handle_scope(w->env, scope);
}

#endif

static napi_value js_open(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t ifindex;
  char ifname[64];
  size_t n = 0;
  if (!get_args(env, info, 2, argv) || !get_int(env, argv[0], "ifindex", &ifindex) || !get_string(env, argv[1], "ifname", ifname, sizeof ifname, &n)) return NULL;
#ifdef __linux__
  int fd = socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, IPPROTO_VRRP_NUM);
  if (fd < 0) return throw_errno(env, "socket(AF_INET6, SOCK_RAW, 112)", errno);
  int on = 1, off = 0, hops = 255, tclass = 0xc0, rcvbuf = 1 << 20;
  struct ipv6_mreq mreq;
  memset(&mreq, 0, sizeof mreq);
  inet_pton(AF_INET6, "ff02::12", &mreq.ipv6mr_multiaddr);
  mreq.ipv6mr_interface = (unsigned)ifindex;
  unsigned mif = (unsigned)ifindex;
  const char *what = NULL;
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)n + 1) < 0) what = "SO_BINDTODEVICE";
  else if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof on) < 0) what = "IPV6_RECVHOPLIMIT";
  else if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on) < 0) what = "IPV6_RECVPKTINFO";
  else if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops) < 0) what = "IPV6_MULTICAST_HOPS";
  else if (setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof hops) < 0) what = "IPV6_UNICAST_HOPS";
  else if (setsockopt(fd, IPPROTO_IPV6, IPV6_TCLASS, &tclass, sizeof tclass) < 0) what = "IPV6_TCLASS";
  else if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &off, sizeof off) < 0) what = "IPV6_MULTICAST_LOOP";
  else if (setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &mif, sizeof mif) < 0) what = "IPV6_MULTICAST_IF";
  else if (setsockopt(fd, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &mreq, sizeof mreq) < 0) what = "IPV6_ADD_MEMBERSHIP ff02::12";
  else if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) < 0) what = "SO_RCVBUF";
  return opened(env, fd, what);
#else
  (void)ifindex;
  return throw_errno(env, "VRRP over IPv6 is Linux-only", ENOTSUP);
#endif
}

static napi_value js_send(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  int32_t fd, ifindex;
  if (!get_args(env, info, 5, argv) || !get_int(env, argv[0], "fd", &fd) || !get_int(env, argv[4], "ifindex", &ifindex)) return NULL;
#ifdef __linux__
  void *msg, *dst, *src;
  size_t msg_len, dst_len, src_len;
  if (!get_buffer(env, argv[1], "msg", &msg, &msg_len) || !get_buffer(env, argv[2], "dst", &dst, &dst_len) ||
      !get_buffer(env, argv[3], "src", &src, &src_len))
    return NULL;
  if (dst_len != 16 || src_len != 16) {
    napi_throw_range_error(env, NULL, ADDON_NAME ": addresses must be 16 bytes");
    return NULL;
  }
  struct sockaddr_in6 to;
  memset(&to, 0, sizeof to);
  to.sin6_family = AF_INET6;
  memcpy(&to.sin6_addr, dst, 16);
  if (IN6_IS_ADDR_LINKLOCAL(&to.sin6_addr) || IN6_IS_ADDR_MULTICAST(&to.sin6_addr)) to.sin6_scope_id = (uint32_t)ifindex;
  union {
    char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
    struct cmsghdr align;
  } control;
  memset(&control, 0, sizeof control);
  struct iovec iov = {msg, msg_len};
  struct msghdr mh;
  memset(&mh, 0, sizeof mh);
  mh.msg_name = &to;
  mh.msg_namelen = sizeof to;
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control.buf;
  mh.msg_controllen = sizeof control.buf;
  struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
  c->cmsg_level = IPPROTO_IPV6;
  c->cmsg_type = IPV6_PKTINFO;
  c->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
  struct in6_pktinfo pi;
  memset(&pi, 0, sizeof pi);
  memcpy(&pi.ipi6_addr, src, 16);
  pi.ipi6_ifindex = (unsigned)ifindex;
  memcpy(CMSG_DATA(c), &pi, sizeof pi);
  return int_or_errno(env, sendmsg(fd, &mh, MSG_DONTWAIT), "sendmsg(VRRP over IPv6)");
#else
  (void)fd; (void)ifindex;
  return throw_errno(env, "VRRP over IPv6 is Linux-only", ENOTSUP);
#endif
}

static napi_value js_watch(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int32_t fd;
  if (!get_args(env, info, 4, argv) || !get_int(env, argv[0], "fd", &fd) || !get_function(env, argv[3], "callback")) return NULL;
#ifdef __linux__
  void *rx, *meta;
  size_t rx_len, meta_len;
  if (!get_buffer(env, argv[1], "rx", &rx, &rx_len) || !get_buffer(env, argv[2], "meta", &meta, &meta_len)) return NULL;
  if (meta_len < 40 || rx_len < 1) {
    napi_throw_range_error(env, NULL, ADDON_NAME ": meta must be at least 40 bytes, rx at least 1");
    return NULL;
  }
  /* rx and meta stay referenced while watched: on_readable writes into them. */
  watcher_t *w = start_watcher(env, fd, argv[3], "vrrp6_socket.watch", argv[1], argv[2], on_readable);
  if (!w) return NULL;
  w->rx = rx;
  w->rx_len = rx_len;
  w->meta = meta;
  return NULL;
#else
  (void)fd;
  return throw_errno(env, "VRRP over IPv6 is Linux-only", ENOTSUP);
#endif
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  return stop_and_close(env, info, stop_watcher, 1);
}

ADDON_MODULE(
  ADDON_METHOD("open", js_open),
  ADDON_METHOD("send", js_send),
  ADDON_METHOD("watch", js_watch),
  ADDON_METHOD("close", js_close)
)
