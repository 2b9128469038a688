/*
 * netlink: the smallest N-API addon that talks rtnetlink (NETLINK_ROUTE). It moves bytes only; every
 * message is built and parsed in TypeScript (src/net/netlink/message.ts). The one piece of protocol
 * here is knowing when a request's answer is complete.
 *
 *   open(groups) -> fd          socket(AF_NETLINK, SOCK_RAW|SOCK_CLOEXEC, NETLINK_ROUTE), bound with
 *                               nl_groups = groups (0: requests only), SO_RCVTIMEO 2 s as a safety net,
 *                               NETLINK_GET_STRICT_CHK so that dumps honour their filters
 *   request(fd, msg) -> Buffer[] sendto(kernel) of one request, then recv() every datagram until the
 *                               answer with msg's nlmsg_seq ends: NLMSG_DONE (dump), NLMSG_ERROR (ack,
 *                               error 0 included) or any single-part answer. Datagrams carrying other
 *                               sequence numbers (left by an earlier, timed-out request) are dropped.
 *                               The kernel answers within the syscall, so this blocks for microseconds.
 *                               For a request-only socket (groups 0, not watched): on a watched one,
 *                               events would be dropped and the non-blocking recv would give up.
 *   watch(fd, cb(Buffer|null))  makes fd non-blocking and polls it on the libuv loop; every datagram is
 *                               handed to cb as a Buffer; a receive-queue overflow (ENOBUFS: events were
 *                               lost) calls cb(null) so the caller re-reads the state. The poll
 *                               handle is unref'd: a watcher alone does not keep the process alive
 *   unwatch(fd)                 stops that
 *   close(fd)                   unwatch + close
 *
 * Errors are thrown as JS Errors whose message carries strerror(errno) and whose .code is the errno name
 * (EPERM, ETIMEDOUT, ...); the argument helpers and the watcher list are native/addon_common.h's,
 * shared with the other addons. Linux only; elsewhere every call throws ENOTSUP.
 */
#define ADDON_NAME "netlink"
#define ADDON_WATCHERS
#include "addon_common.h"

#ifdef __linux__
#include <fcntl.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <linux/netlink.h>
#ifndef SOL_NETLINK
#define SOL_NETLINK 270
#endif
#ifndef NETLINK_GET_STRICT_CHK
#define NETLINK_GET_STRICT_CHK 12
#endif
#endif

#ifdef __linux__

static void on_readable(uv_poll_t *handle, int status, int events);

/* Events were lost (the receive queue overflowed: ENOBUFS): tell JS, which re-reads everything. */
static void overflowed(watcher_t *w) {
  napi_value nul;
  napi_get_null(w->env, &nul);
  call_js(w, nul);
}

static void on_readable(uv_poll_t *handle, int status, int events) {
  watcher_t *w = (watcher_t *)handle->data;
  (void)events;
  int fd = w->fd;
  napi_handle_scope scope;
  napi_open_handle_scope(w->env, &scope);
  if (status < 0) {
    /* libuv saw POLLERR (the overflow sets the socket error) and stopped this handle: clear the
     * error, report the loss, and poll again. */
    clear_socket_error(fd);
    overflowed(w);
    if (find_watcher(fd) == w) uv_poll_start(&w->poll, UV_READABLE, on_readable);
  }
  /* Drain the queue; the callback may unwatch/close the fd, so look the watcher up again each turn. */
  while (find_watcher(fd) == w) {
    ssize_t len = recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC | MSG_DONTWAIT);
    if (len < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {
        overflowed(w);
        continue;
      }
      break; /* EAGAIN: drained */
    }
    void *data = NULL;
    napi_value buf;
    if (napi_create_buffer(w->env, len > 0 ? (size_t)len : 1, &data, &buf) != napi_ok) break;
    ssize_t n = recv(fd, data, len > 0 ? (size_t)len : 1, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      if (errno == ENOBUFS) {
        overflowed(w);
        continue;
      }
      break;
    }
    if (n < len) memset((char *)data + n, 0, (size_t)(len - n)); /* cannot happen (peeked length) */
    call_js(w, buf);
  }
  napi_close_handle_scope(w->env, scope);
}

#endif

static napi_value js_open(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t groups;
  if (!get_args(env, info, 1, argv) || !get_int(env, argv[0], "groups", &groups)) return NULL;
#ifdef __linux__
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return throw_errno(env, "socket(AF_NETLINK, NETLINK_ROUTE)", errno);
  struct timeval tv = {2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  /* Strict checking (Linux >= 4.20): dumps honour their filters (an address dump for one ifindex). An
   * older kernel ignores both the option and the filter; the caller filters again. */
  int one = 1;
  setsockopt(fd, SOL_NETLINK, NETLINK_GET_STRICT_CHK, &one, sizeof one);
  if (groups != 0) {
    int size = 1 << 20; /* room for a burst of events (200 VIPs moving at once) before ENOBUFS */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  struct sockaddr_nl sa;
  memset(&sa, 0, sizeof sa);
  sa.nl_family = AF_NETLINK;
  sa.nl_groups = (uint32_t)groups;
  return opened(env, fd, bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ? "bind(AF_NETLINK)" : NULL);
#else
  (void)groups;
  return throw_errno(env, "netlink sockets are Linux-only", ENOTSUP);
#endif
}

#ifdef __linux__
/* Does this datagram end the answer to `seq`? Sets *mine when it carries any message of `seq`. */
static int ends_answer(const unsigned char *buf, size_t len, uint32_t seq, int *mine) {
  size_t off = 0;
  *mine = 0;
  while (off + sizeof(struct nlmsghdr) <= len) {
    const struct nlmsghdr *h = (const struct nlmsghdr *)(buf + off);
    if (h->nlmsg_len < sizeof(struct nlmsghdr) || h->nlmsg_len > len - off) return *mine; /* truncated: stop here */
    if (h->nlmsg_seq == seq) {
      *mine = 1;
      if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR || !(h->nlmsg_flags & NLM_F_MULTI)) return 1;
    }
    off += NLMSG_ALIGN(h->nlmsg_len);
  }
  return 0;
}
#endif

static napi_value js_request(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  int32_t fd;
  void *data;
  size_t len;
  if (!get_args(env, info, 2, argv) || !get_int(env, argv[0], "fd", &fd) || !get_buffer(env, argv[1], "msg", &data, &len)) return NULL;
#ifdef __linux__
  if (len < sizeof(struct nlmsghdr)) {
    napi_throw_range_error(env, NULL, "netlink: msg shorter than a netlink header");
    return NULL;
  }
  uint32_t seq = ((const struct nlmsghdr *)data)->nlmsg_seq;
  struct sockaddr_nl kernel;
  memset(&kernel, 0, sizeof kernel);
  kernel.nl_family = AF_NETLINK;
  ssize_t sent;
  do sent = sendto(fd, data, len, 0, (struct sockaddr *)&kernel, sizeof kernel);
  while (sent < 0 && errno == EINTR);
  if (sent < 0) return throw_errno(env, "sendto(AF_NETLINK)", errno);

  napi_create_array(env, &result);
  uint32_t count = 0;
  for (;;) {
    ssize_t size = recv(fd, NULL, 0, MSG_PEEK | MSG_TRUNC);
    if (size < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return throw_errno(env, "recv(AF_NETLINK): no answer from the kernel", ETIMEDOUT);
      return throw_errno(env, "recv(AF_NETLINK)", errno);
    }
    void *buf = NULL;
    napi_value chunk;
    if (napi_create_buffer(env, size > 0 ? (size_t)size : 1, &buf, &chunk) != napi_ok) return NULL;
    ssize_t n;
    do n = recv(fd, buf, size > 0 ? (size_t)size : 1, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return throw_errno(env, "recv(AF_NETLINK): no answer from the kernel", ETIMEDOUT);
      return throw_errno(env, "recv(AF_NETLINK)", errno);
    }
    int mine = 0;
    int done = ends_answer((const unsigned char *)buf, (size_t)n, seq, &mine);
    if (mine) {
      if (n < size) { /* never happens with a peeked size; keep the buffer honest anyway */
        napi_value sliced;
        void *copy;
        napi_create_buffer_copy(env, (size_t)n, buf, &copy, &sliced);
        chunk = sliced;
      }
      napi_set_element(env, result, count++, chunk);
    }
    if (done) return result;
  }
#else
  (void)fd; (void)len; (void)result;
  return throw_errno(env, "netlink sockets are Linux-only", ENOTSUP);
#endif
}

static napi_value js_watch(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t fd;
  if (!get_args(env, info, 2, argv) || !get_int(env, argv[0], "fd", &fd) || !get_function(env, argv[1], "callback")) return NULL;
#ifdef __linux__
  if (find_watcher(fd)) return throw_errno(env, "netlink: fd is already watched", EINVAL);
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return throw_errno(env, "fcntl(O_NONBLOCK)", errno);
  start_watcher(env, fd, argv[1], "netlink.watch", NULL, NULL, on_readable);
  return NULL;
#else
  (void)fd;
  return throw_errno(env, "netlink sockets are Linux-only", ENOTSUP);
#endif
}

/* unwatch(fd) stops watching; close(fd) also closes the socket. */
static napi_value js_unwatch(napi_env env, napi_callback_info info) {
  return stop_and_close(env, info, stop_watcher, 0);
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  return stop_and_close(env, info, stop_watcher, 1);
}

ADDON_MODULE(
  ADDON_METHOD("open", js_open),
  ADDON_METHOD("request", js_request),
  ADDON_METHOD("watch", js_watch),
  ADDON_METHOD("unwatch", js_unwatch),
  ADDON_METHOD("close", js_close)
)
