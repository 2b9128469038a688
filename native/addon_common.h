/*
 * addon_common.h: what the project's N-API addons share (native/packet_socket.c, netlink.c,
 * sd_notify.c, vrrp6_socket.c, vrrp_offload.c).
 *
 *   errors     thrown as JS Errors whose message carries strerror(errno) and whose .code is the errno
 *              name (EPERM, ENODEV, ...), with .errno = -errno (throw_errno, int_or_errno, opened)
 *   arguments  get_args, get_int, get_buffer, get_string, get_function: each returns 0 with a
 *              TypeError thrown (type_error: "<ADDON_NAME>: <name> must be ...") for the caller to
 *              return NULL
 *   close(fd)  stop_and_close: the fd argument, an optional "stop watching it", close()
 *   watchers   (define ADDON_WATCHERS before including; needs libuv) one uv_poll_t per watched fd,
 *              kept in a list: start_watcher, find_watcher, stop_watcher, call_js. An addon adds
 *              fields of its own to watcher_t with ADDON_WATCHER_FIELDS.
 *   the module ADDON_MODULE(ADDON_METHOD("open", js_open), ...)
 *
 * Define ADDON_NAME before including this file; it prefixes the TypeError messages. Helpers that not
 * every addon uses are `static inline` (no unused-function warnings).
 */
#ifndef HA_AGENT_ADDON_COMMON_H
#define HA_AGENT_ADDON_COMMON_H

#include <node_api.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/types.h>
#ifdef __linux__
#include <unistd.h>
#include <sys/socket.h>
#endif

static const char *errno_name(int err) {
  switch (err) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOENT: return "ENOENT";
    case ENODEV: return "ENODEV";
    case ENXIO: return "ENXIO";
    case ENETDOWN: return "ENETDOWN";
    case EAGAIN: return "EAGAIN";
    case ETIMEDOUT: return "ETIMEDOUT";
    case ENOBUFS: return "ENOBUFS";
    case ENOMEM: return "ENOMEM";
    case EBADF: return "EBADF";
    case EINVAL: return "EINVAL";
    case EMSGSIZE: return "EMSGSIZE";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
    case EAFNOSUPPORT: return "EAFNOSUPPORT";
    case ENOTSUP: return "ENOTSUP";
    default: return "EIO";
  }
}

/* Throws Error("<what>: <strerror>") with .code and .errno; returns NULL for the caller to return. */
static napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value code, text, error, num;
  napi_create_string_utf8(env, errno_name(err), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, code, text, &error);
  napi_create_int32(env, -err, &num);
  napi_set_named_property(env, error, "errno", num);
  napi_throw(env, error);
  return NULL;
}

/* Throws TypeError("<ADDON_NAME>: <name> must be <must>"); returns 0 for the argument helpers to return. */
static int type_error(napi_env env, const char *name, const char *must) {
  char msg[128];
  snprintf(msg, sizeof msg, ADDON_NAME ": %s must be %s", name, must);
  napi_throw_type_error(env, NULL, msg);
  return 0;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, NULL, ADDON_NAME ": missing arguments");
    return 0;
  }
  return 1;
}

static int get_int(napi_env env, napi_value v, const char *name, int32_t *out) {
  if (napi_get_value_int32(env, v, out) != napi_ok) {
    return type_error(env, name, "a number");
  }
  return 1;
}

/* Reads a Buffer argument (its bytes, not a copy). */
static inline int get_buffer(napi_env env, napi_value v, const char *name, void **data, size_t *len) {
  bool is_buffer = false;
  napi_is_buffer(env, v, &is_buffer);
  if (!is_buffer || napi_get_buffer_info(env, v, data, len) != napi_ok) {
    return type_error(env, name, "a Buffer");
  }
  return 1;
}

/* Reads a string argument into buf (NUL-terminated, cut to size - 1 bytes); *len: the bytes copied. */
static inline int get_string(napi_env env, napi_value v, const char *name, char *buf, size_t size, size_t *len) {
  if (napi_get_value_string_utf8(env, v, buf, size, len) != napi_ok) {
    return type_error(env, name, "a string");
  }
  return 1;
}

static inline int get_function(napi_env env, napi_value v, const char *name) {
  napi_valuetype type;
  if (napi_typeof(env, v, &type) != napi_ok || type != napi_function) {
    return type_error(env, name, "a function");
  }
  return 1;
}

/* What a syscall returned (an fd, a byte count) as a JS number; when negative, errno thrown as `what`. */
static inline napi_value int_or_errno(napi_env env, ssize_t n, const char *what) {
  if (n < 0) return throw_errno(env, what, errno);
  napi_value result;
  napi_create_int32(env, (int32_t)n, &result);
  return result;
}

/*
 * The end of an open(): the new fd as a JS number, or, when `failed` names the step that failed (errno
 * still set by it), the fd closed and that errno thrown.
 */
static inline napi_value opened(napi_env env, int fd, const char *failed) {
  if (failed) {
    int err = errno;
#ifdef __linux__
    close(fd);
#endif
    return throw_errno(env, failed, err);
  }
  return int_or_errno(env, fd, "open");
}

/*
 * A JS close(fd) / unwatch(fd): reads the fd argument, runs `stop` on it (stops watching it; NULL for
 * none), then close()s it when `and_close` (a failing close throws). Off Linux only the argument is read.
 */
static inline napi_value stop_and_close(napi_env env, napi_callback_info info, void (*stop)(int fd), int and_close) {
  napi_value argv[1];
  int32_t fd;
  if (!get_args(env, info, 1, argv) || !get_int(env, argv[0], "fd", &fd)) return NULL;
#ifdef __linux__
  if (stop) stop(fd);
  if (and_close && close(fd) < 0) return throw_errno(env, "close", errno);
#else
  (void)stop; (void)and_close;
#endif
  return NULL;
}

#if defined(ADDON_WATCHERS) && defined(__linux__)
/* ---- watchers: one uv_poll_t per watched fd, kept in a list ------------------------------------ */
#include <uv.h>

#ifndef ADDON_WATCHER_FIELDS
#define ADDON_WATCHER_FIELDS
#endif

typedef struct watcher {
  uv_poll_t poll;
  int fd;
  napi_env env;
  napi_ref callback;
  napi_ref keep[2]; /* values the C side uses while watching (buffers it writes into); NULL: none */
  napi_async_context context;
  struct watcher *next;
  ADDON_WATCHER_FIELDS
} watcher_t;

static watcher_t *watchers = NULL;

static watcher_t *find_watcher(int fd) {
  for (watcher_t *w = watchers; w; w = w->next)
    if (w->fd == fd) return w;
  return NULL;
}

static void free_watcher(uv_handle_t *h) {
  free(h->data);
}

/* Stops watching fd (nothing when it is not watched); the watcher is freed once libuv closed it. */
static void stop_watcher(int fd) {
  watcher_t **p = &watchers;
  while (*p && (*p)->fd != fd) p = &(*p)->next;
  watcher_t *w = *p;
  if (!w) return;
  *p = w->next;
  uv_poll_stop(&w->poll);
  napi_delete_reference(w->env, w->callback);
  for (int i = 0; i < 2; i++)
    if (w->keep[i]) napi_delete_reference(w->env, w->keep[i]);
  napi_async_destroy(w->env, w->context);
  w->poll.data = w;
  uv_close((uv_handle_t *)&w->poll, free_watcher);
}

/*
 * Starts polling fd for reading on the libuv loop: on_readable runs with handle->data = the watcher,
 * which calls `callback` through call_js. The poll handle is unref'd (a watcher alone does not keep
 * the process alive). `resource`: the async resource's name ("netlink.watch"). `keep`: up to two
 * values referenced while watched (NULL: none). NULL with an exception thrown when it cannot.
 */
static watcher_t *watch_failed(napi_env env, const char *what, int err) {
  throw_errno(env, what, err);
  return NULL;
}

static watcher_t *start_watcher(napi_env env, int fd, napi_value callback, const char *resource, napi_value keep0, napi_value keep1, uv_poll_cb on_readable) {
  if (find_watcher(fd)) return watch_failed(env, ADDON_NAME ": fd is already watched", EINVAL);
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return watch_failed(env, "napi_get_uv_event_loop", EIO);
  watcher_t *w = calloc(1, sizeof *w);
  if (!w) return watch_failed(env, ADDON_NAME ": watch", ENOMEM);
  w->fd = fd;
  w->env = env;
  int rc = uv_poll_init(loop, &w->poll, fd);
  if (rc < 0) {
    free(w);
    return watch_failed(env, "uv_poll_init", -rc);
  }
  w->poll.data = w;
  napi_value name;
  napi_create_string_utf8(env, resource, NAPI_AUTO_LENGTH, &name);
  napi_create_reference(env, callback, 1, &w->callback);
  if (keep0) napi_create_reference(env, keep0, 1, &w->keep[0]);
  if (keep1) napi_create_reference(env, keep1, 1, &w->keep[1]);
  napi_async_init(env, NULL, name, &w->context);
  w->next = watchers;
  watchers = w;
  rc = uv_poll_start(&w->poll, UV_READABLE, on_readable);
  if (rc < 0) {
    stop_watcher(fd);
    return watch_failed(env, "uv_poll_start", -rc);
  }
  uv_unref((uv_handle_t *)&w->poll);
  return w;
}

/* Calls the JS callback with one argument; an exception thrown there becomes an uncaught exception. */
static void call_js(watcher_t *w, napi_value arg) {
  napi_value cb, global, result;
  if (napi_get_reference_value(w->env, w->callback, &cb) != napi_ok || cb == NULL) return;
  napi_get_global(w->env, &global);
  if (napi_make_callback(w->env, w->context, global, cb, 1, &arg, &result) == napi_pending_exception) {
    napi_value err;
    napi_get_and_clear_last_exception(w->env, &err);
    napi_fatal_exception(w->env, err);
  }
}

/* libuv saw POLLERR and stopped the handle: reads (and so clears) the socket's pending error. */
static void clear_socket_error(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
}
#elif defined(ADDON_WATCHERS)
static void stop_watcher(int fd) {
  (void)fd;
}
#endif

/* One entry of the exports table: name → C function. */
#define ADDON_METHOD(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_enumerable, NULL}

/* The module: ADDON_MODULE(ADDON_METHOD("open", js_open), ...) exports those functions. */
#define ADDON_MODULE(...)                                                       \
  static napi_value init(napi_env env, napi_value exports) {                    \
    napi_property_descriptor props[] = {__VA_ARGS__};                           \
    napi_define_properties(env, exports, sizeof props / sizeof props[0], props); \
    return exports;                                                             \
  }                                                                             \
  NAPI_MODULE(NODE_GYP_MODULE_NAME, init)

#endif
