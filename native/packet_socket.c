/*
 * packet_socket: the smallest N-API addon that sends whole Ethernet frames on one interface, which
 * is all gratuitous ARP needs (keepalived does the same with an AF_PACKET socket).
 *
 *   open(ifindex) -> fd        AF_PACKET/SOCK_RAW socket bound to the interface, protocol 0: it never
 *                              receives, so no receive queue can fill up (keepalived issue #1973)
 *   send(fd, ifindex, frame)   sendto() of the frame as given (dst MAC, src MAC, ethertype, payload)
 *   close(fd)
 *   nametoindex(name) -> ifindex (0 when there is no such interface)
 *
 * Errors are thrown as JS Errors whose message carries strerror(errno) and whose .code is the errno
 * name (EPERM, ENODEV, ...); errors and argument helpers: native/addon_common.h. The socket is
 * non-blocking: a full device queue is an EAGAIN, never a stalled event loop. Needs CAP_NET_RAW.
 * Linux only; elsewhere every call throws ENOTSUP.
 */
#define ADDON_NAME "packet_socket"
#include "addon_common.h"

#ifdef __linux__
#include <unistd.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <linux/if_packet.h>
#include <linux/if_ether.h>
#endif

static napi_value js_open(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t ifindex;
  if (!get_args(env, info, 1, argv) || !get_int(env, argv[0], "ifindex", &ifindex)) return NULL;
#ifdef __linux__
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return throw_errno(env, "socket(AF_PACKET, SOCK_RAW)", errno);
  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof sll);
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = 0; /* send only: bind to the interface without subscribing to any protocol */
  sll.sll_ifindex = ifindex;
  return opened(env, fd, bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0 ? "bind(AF_PACKET)" : NULL);
#else
  (void)ifindex;
  return throw_errno(env, "AF_PACKET sockets are Linux-only", ENOTSUP);
#endif
}

static napi_value js_send(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd, ifindex;
  void *data;
  size_t len;
  if (!get_args(env, info, 3, argv) || !get_int(env, argv[0], "fd", &fd) || !get_int(env, argv[1], "ifindex", &ifindex) ||
      !get_buffer(env, argv[2], "frame", &data, &len))
    return NULL;
#ifdef __linux__
  if (len < ETH_HLEN) {
    napi_throw_range_error(env, NULL, "packet_socket: frame shorter than an Ethernet header");
    return NULL;
  }
  const unsigned char *frame = (const unsigned char *)data;
  struct sockaddr_ll to;
  memset(&to, 0, sizeof to);
  to.sll_family = AF_PACKET;
  to.sll_ifindex = ifindex;
  to.sll_protocol = htons((unsigned short)((frame[12] << 8) | frame[13])); /* the frame's ethertype */
  to.sll_halen = ETH_ALEN;
  memcpy(to.sll_addr, frame, ETH_ALEN);
  return int_or_errno(env, sendto(fd, data, len, 0, (struct sockaddr *)&to, sizeof to), "sendto(AF_PACKET)");
#else
  (void)fd; (void)ifindex; (void)data; (void)len;
  return throw_errno(env, "AF_PACKET sockets are Linux-only", ENOTSUP);
#endif
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  return stop_and_close(env, info, NULL, 1);
}

static napi_value js_nametoindex(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  char name[64];
  size_t n = 0;
  if (!get_args(env, info, 1, argv) || !get_string(env, argv[0], "name", name, sizeof name, &n)) return NULL;
#ifdef __linux__
  unsigned idx = if_nametoindex(name);
#else
  unsigned idx = 0;
#endif
  napi_create_uint32(env, idx, &result);
  return result;
}

ADDON_MODULE(
  ADDON_METHOD("open", js_open),
  ADDON_METHOD("send", js_send),
  ADDON_METHOD("close", js_close),
  ADDON_METHOD("nametoindex", js_nametoindex)
)
