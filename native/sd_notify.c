/*
 * sd_notify: what systemd's notify protocol needs from C, because Node has no unix datagram sockets:
 *
 *   open() -> fd                  AF_UNIX/SOCK_DGRAM socket, non-blocking, close-on-exec, never bound
 *   send(fd, address, buffer)     one sendto() of the buffer to NOTIFY_SOCKET's address: "/path" or
 *                                 "@name" (abstract namespace: the '@' becomes a NUL byte). The kernel
 *                                 attaches our credentials when systemd asks for them (SO_PASSCRED)
 *   close(fd)
 *   stallWatch(ms, line)          starts (once) a thread that writes `line` (a JSON log line whose
 *                                 "@STALL@" is replaced by the stall length in ms) to fd 1 when beat()
 *                                 has not been called for `ms` — while the event loop is still stuck,
 *                                 so the log shows it before systemd's watchdog acts. Once per stall.
 *   beat()                        the event loop is alive (one relaxed atomic store)
 *   stallUnwatch()                stops and joins that thread
 *
 * Errors are thrown as JS Errors with .code (ENOENT, ECONNREFUSED → EIO, EAGAIN, ...); errors and
 * argument helpers: addon_common.h. The socket is non-blocking: a busy systemd is an EAGAIN, never a
 * stalled event loop. Linux only; elsewhere every call throws ENOTSUP.
 */
#define ADDON_NAME "sd_notify"
#include "addon_common.h"

#ifdef __linux__
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#endif

static napi_value js_open(napi_env env, napi_callback_info info) {
  (void)info;
#ifdef __linux__
  return int_or_errno(env, socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), "socket(AF_UNIX, SOCK_DGRAM)");
#else
  return throw_errno(env, "unix datagram sockets: Linux only here", ENOTSUP);
#endif
}

static napi_value js_send(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int32_t fd;
  char address[112]; /* sun_path is 108 bytes */
  size_t alen = 0;
  void *data;
  size_t len;
  if (!get_args(env, info, 3, argv) || !get_int(env, argv[0], "fd", &fd) || !get_string(env, argv[1], "address", address, sizeof address, &alen) ||
      !get_buffer(env, argv[2], "message", &data, &len))
    return NULL;
#ifdef __linux__
  struct sockaddr_un sun;
  memset(&sun, 0, sizeof sun);
  sun.sun_family = AF_UNIX;
  /* alen == sizeof address - 1 means the string was cut: longer than sun_path can hold */
  if (alen < 2 || alen > sizeof sun.sun_path || (address[0] != '/' && address[0] != '@'))
    return throw_errno(env, "NOTIFY_SOCKET address (not \"/path\" or \"@name\", or too long)", EINVAL);
  memcpy(sun.sun_path, address, alen);
  socklen_t slen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + alen);
  if (address[0] == '@') sun.sun_path[0] = '\0'; /* abstract: exactly alen bytes, no trailing NUL */
  return int_or_errno(env, sendto(fd, data, len, MSG_NOSIGNAL, (struct sockaddr *)&sun, slen), "sendto(NOTIFY_SOCKET)");
#else
  (void)fd; (void)data; (void)len;
  return throw_errno(env, "unix datagram sockets: Linux only here", ENOTSUP);
#endif
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  return stop_and_close(env, info, NULL, 1);
}

#ifdef __linux__
/* --- the stall watch: a plain thread, no JS, no V8 ---------------------------------------------- */

static atomic_llong last_beat_ms;
static int watch_stop; /* under watch_mutex */
static pthread_mutex_t watch_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t watch_cond; /* CLOCK_MONOTONIC; signalled by stallUnwatch */
static int watch_running;
static pthread_t watch_thread;
static long long watch_ms;
static char *watch_line; /* JSON with "@STALL@" where the stall length goes */

static long long mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes the line with "@TIME@" → ISO time and "@STALL@" → ms; best effort (a full pipe drops it). */
static void write_stall_line(long long stalled) {
  char out[1024], iso[40], num[24];
  struct timespec now;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &now);
  gmtime_r(&now.tv_sec, &tm);
  size_t k = strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(iso + k, sizeof iso - k, ".%03ldZ", now.tv_nsec / 1000000);
  snprintf(num, sizeof num, "%lld", stalled);
  size_t o = 0;
  for (const char *p = watch_line; *p && o < sizeof out - 40; p++) {
    const char *put = NULL;
    if (strncmp(p, "@STALL@", 7) == 0) put = num, p += 6;
    else if (strncmp(p, "@TIME@", 6) == 0) put = iso, p += 5;
    if (put) {
      size_t l = strlen(put);
      memcpy(out + o, put, l);
      o += l;
    } else out[o++] = *p;
  }
  out[o++] = '\n';
  ssize_t ignored = write(1, out, o);
  (void)ignored;
}

static void *watch_main(void *arg) {
  (void)arg;
  long long step = watch_ms / 8 > 0 ? watch_ms / 8 : 1;
  long long warned_for = -1; /* the beat we already warned about */
  pthread_mutex_lock(&watch_mutex);
  while (!watch_stop) {
    long long wake = mono_ms() + step;
    struct timespec ts = {wake / 1000, (wake % 1000) * 1000000L};
    pthread_cond_timedwait(&watch_cond, &watch_mutex, &ts);
    if (watch_stop) break;
    long long beat = atomic_load_explicit(&last_beat_ms, memory_order_relaxed);
    long long stalled = mono_ms() - beat;
    if (stalled >= watch_ms && beat != warned_for) {
      warned_for = beat;
      write_stall_line(stalled);
    }
  }
  pthread_mutex_unlock(&watch_mutex);
  return NULL;
}
#endif

static napi_value js_beat(napi_env env, napi_callback_info info) {
  (void)env; (void)info;
#ifdef __linux__
  atomic_store_explicit(&last_beat_ms, mono_ms(), memory_order_relaxed);
#endif
  return NULL;
}

static napi_value js_stall_watch(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int32_t ms;
  size_t len = 0;
  if (!get_args(env, info, 2, argv) || !get_int(env, argv[0], "ms", &ms)) return NULL;
  if (napi_get_value_string_utf8(env, argv[1], NULL, 0, &len) != napi_ok || len > 800) {
    napi_throw_type_error(env, NULL, ADDON_NAME ": line must be a string of at most 800 bytes");
    return NULL;
  }
#ifdef __linux__
  if (watch_running) return NULL;
  char *line = malloc(len + 1);
  if (!line) return throw_errno(env, "stallWatch", ENOMEM);
  napi_get_value_string_utf8(env, argv[1], line, len + 1, &len);
  free(watch_line);
  watch_line = line;
  watch_ms = ms > 0 ? ms : 1;
  watch_stop = 0;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&watch_cond, &ca);
  pthread_condattr_destroy(&ca);
  atomic_store(&last_beat_ms, mono_ms());
  int err = pthread_create(&watch_thread, NULL, watch_main, NULL);
  if (err) return throw_errno(env, "pthread_create", err);
  watch_running = 1;
  return NULL;
#else
  (void)ms;
  return throw_errno(env, "stallWatch: Linux only here", ENOTSUP);
#endif
}

static napi_value js_stall_unwatch(napi_env env, napi_callback_info info) {
  (void)env; (void)info;
#ifdef __linux__
  if (!watch_running) return NULL;
  pthread_mutex_lock(&watch_mutex);
  watch_stop = 1;
  pthread_cond_signal(&watch_cond);
  pthread_mutex_unlock(&watch_mutex);
  pthread_join(watch_thread, NULL);
  pthread_cond_destroy(&watch_cond);
  watch_running = 0;
#endif
  return NULL;
}

ADDON_MODULE(ADDON_METHOD("open", js_open), ADDON_METHOD("send", js_send), ADDON_METHOD("close", js_close),
             ADDON_METHOD("stallWatch", js_stall_watch), ADDON_METHOD("beat", js_beat),
             ADDON_METHOD("stallUnwatch", js_stall_unwatch))
