/*
 * addon_common.h: what the project's N-API addons share (native/packet_socket.c, native/netlink.c).
 * Errors are thrown as JS Errors whose message carries strerror(errno) and whose .code is the errno
 * name (EPERM, ENODEV, ...), with .errno = -errno. Define ADDON_NAME before including this file; it
 * prefixes the TypeError messages.
 */
#ifndef HA_AGENT_ADDON_COMMON_H
#define HA_AGENT_ADDON_COMMON_H

#include <node_api.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

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
    char msg[96];
    snprintf(msg, sizeof msg, ADDON_NAME ": %s must be a number", name);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  return 1;
}

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
