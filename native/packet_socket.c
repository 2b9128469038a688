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
 * name (EPERM, ENODEV, ...). The socket is non-blocking: a full device queue is an EAGAIN, never a
 * stalled event loop. Needs CAP_NET_RAW. Linux only; elsewhere every call throws ENOTSUP.
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
  napi_value argv[1], result;
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
  if (bind(fd, (struct sockaddr *)&sll, sizeof sll) < 0) {
    int err = errno;
    close(fd);
    return throw_errno(env, "bind(AF_PACKET)", err);
  }
  napi_create_int32(env, fd, &result);
  return result;
#else
  (void)ifindex;
  return throw_errno(env, "AF_PACKET sockets are Linux-only", ENOTSUP);
#endif
}

static napi_value js_send(napi_env env, napi_callback_info info) {
  napi_value argv[3], result;
  int32_t fd, ifindex;
  void *data;
  size_t len;
  bool is_buffer = false;
  if (!get_args(env, info, 3, argv) || !get_int(env, argv[0], "fd", &fd) || !get_int(env, argv[1], "ifindex", &ifindex)) return NULL;
  napi_is_buffer(env, argv[2], &is_buffer);
  if (!is_buffer || napi_get_buffer_info(env, argv[2], &data, &len) != napi_ok) {
    napi_throw_type_error(env, NULL, "packet_socket: frame must be a Buffer");
    return NULL;
  }
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
  ssize_t n = sendto(fd, data, len, 0, (struct sockaddr *)&to, sizeof to);
  if (n < 0) return throw_errno(env, "sendto(AF_PACKET)", errno);
  napi_create_int32(env, (int32_t)n, &result);
  return result;
#else
  (void)fd; (void)ifindex; (void)data; (void)len;
  return throw_errno(env, "AF_PACKET sockets are Linux-only", ENOTSUP);
#endif
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv) || !get_int(env, argv[0], "fd", &fd)) return NULL;
#ifdef __linux__
  if (close(fd) < 0) return throw_errno(env, "close", errno);
#endif
  return NULL;
}

static napi_value js_nametoindex(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  char name[64];
  size_t n = 0;
  if (!get_args(env, info, 1, argv)) return NULL;
  if (napi_get_value_string_utf8(env, argv[0], name, sizeof name, &n) != napi_ok) {
    napi_throw_type_error(env, NULL, "packet_socket: name must be a string");
    return NULL;
  }
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
