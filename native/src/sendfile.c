/*
 * wharf_io: zero-copy blob bodies for Wharf, as a plain N-API addon.
 *
 * Node has no sendfile(2): a streamed blob is read into buffers and written
 * to the socket. This addon moves file bytes straight to a plain TCP socket.
 * The JavaScript side (src/http/sendfile.ts) drives it; every call is small:
 *
 *   dup(socketFd) -> fd            a private descriptor for the socket (close-on-exec).
 *                                  Node may close its own descriptor at any time (client
 *                                  abort, idle timeout); ours keeps the number from being
 *                                  reused under a send that is still running.
 *   send(outFd, inFd, offset, count, waitMs) -> Promise<number>
 *                                  on the libuv threadpool: sendfile() until `count` bytes
 *                                  went out or the socket would block (EAGAIN) for longer
 *                                  than the job's first `waitMs` ms; resolves with the bytes
 *                                  sent (< count means "would block").
 *                                  Never sends more than `count` bytes. Rejects on a socket
 *                                  error (EPIPE, ECONNRESET, ...) and when the file ends
 *                                  early (it never grows past what the caller measured).
 *   waitWritable(fd) -> Promise<void>
 *                                  resolves when the socket is writable again, or has an
 *                                  error or hang-up (the next send() then reports it). A
 *                                  uv_poll on our own descriptor: the loop's epoll keys
 *                                  registrations by descriptor, so this does not disturb
 *                                  Node's handle for the same socket.
 *   shutdown(fd)                   shutdown(SHUT_RDWR): ends a waitWritable() and makes a
 *                                  running send() fail fast (used when Node drops the socket).
 *   close(fd)                      close our descriptor (only after waitWritable settled).
 *   supported: boolean             false where sendfile(2) is not available (non-Linux).
 *
 * The threadpool does the sends because sendfile() blocks on disk reads of
 * cold pages even on a non-blocking socket; the event loop never does.
 */
#include <errno.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <node_api.h>
#include <uv.h>

#if defined(__linux__)
#define WHARF_HAVE_SENDFILE 1
#include <fcntl.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>
#else
#define WHARF_HAVE_SENDFILE 0
#endif

/* One sendfile() call moves at most this much (the kernel's own cap is ~2 GiB). */
#define MAX_STEP (64 * 1024 * 1024)

static void throw_errno(napi_env env, const char *what, int err) {
  napi_value code, msg, error;
  const char *name = uv_err_name(uv_translate_sys_error(err));
  char text[160];
  snprintf(text, sizeof text, "%s: %s", what, strerror(err));
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, code, msg, &error);
  napi_throw(env, error);
}

static napi_value errno_error(napi_env env, const char *what, int err) {
  napi_value code, msg, error;
  const char *name = err > 0 ? uv_err_name(uv_translate_sys_error(err)) : "ERR_WHARF_SHORT_FILE";
  char text[160];
  snprintf(text, sizeof text, "%s: %s", what, err > 0 ? strerror(err) : "file ended before the expected length");
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &msg);
  napi_create_error(env, code, msg, &error);
  return error;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return 0;
  if (argc < want) {
    napi_throw_type_error(env, NULL, "wharf_io: missing arguments");
    return 0;
  }
  return 1;
}

static int get_fd(napi_env env, napi_value v, int *fd) {
  int32_t n;
  if (napi_get_value_int32(env, v, &n) != napi_ok || n < 0) {
    napi_throw_type_error(env, NULL, "wharf_io: a file descriptor must be a non-negative integer");
    return 0;
  }
  *fd = n;
  return 1;
}

static int get_size(napi_env env, napi_value v, const char *what, int64_t *out) {
  int64_t n;
  if (napi_get_value_int64(env, v, &n) != napi_ok || n < 0 || n > ((int64_t)1 << 53)) {
    char msg[96];
    snprintf(msg, sizeof msg, "wharf_io: %s must be a non-negative safe integer", what);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  *out = n;
  return 1;
}

/* ------------------------------------------------------------------ dup / close / shutdown */

static napi_value js_dup(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  int fd;
  if (!get_args(env, info, 1, argv) || !get_fd(env, argv[0], &fd)) return NULL;
#if WHARF_HAVE_SENDFILE
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) {
    throw_errno(env, "dup", errno);
    return NULL;
  }
  napi_create_int32(env, copy, &result);
  return result;
#else
  (void)fd;
  (void)result;
  napi_throw_error(env, NULL, "wharf_io: not supported on this platform");
  return NULL;
#endif
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!get_args(env, info, 1, argv) || !get_fd(env, argv[0], &fd)) return NULL;
#if WHARF_HAVE_SENDFILE
  close(fd); /* Linux releases the descriptor even when close() reports an error */
#endif
  return NULL;
}

static napi_value js_shutdown(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!get_args(env, info, 1, argv) || !get_fd(env, argv[0], &fd)) return NULL;
#if WHARF_HAVE_SENDFILE
  shutdown(fd, SHUT_RDWR); /* ENOTCONN when the peer is already gone: nothing to do */
#endif
  return NULL;
}

/* ------------------------------------------------------------------ send (threadpool) */

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  int out_fd, in_fd;
  int64_t offset, count, sent;
  int wait_ms;       /* how long this job may wait for a full socket buffer to drain */
  uint64_t started;  /* uv_hrtime() when the job started */
  int err; /* 0 ok, > 0 errno, -1 file ended early */
} send_req;

static void send_execute(napi_env env, void *arg) {
  (void)env;
  send_req *r = (send_req *)arg;
#if WHARF_HAVE_SENDFILE
  off_t off = (off_t)r->offset;
  r->started = uv_hrtime();
  while (r->sent < r->count) {
    int64_t left = r->count - r->sent;
    size_t step = left > MAX_STEP ? MAX_STEP : (size_t)left;
    ssize_t n = sendfile(r->out_fd, r->in_fd, &off, step);
    if (n > 0) {
      r->sent += n;
      continue;
    }
    if (n == 0) {
      r->err = -1;
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      /* A reader that keeps up drains the socket buffer within a few ms:
         wait here a little (one thread wake-up instead of a trip through the
         event loop and back to the pool), but never long, so a slow client
         cannot hold a pool thread. */
      int left_ms = r->wait_ms - (int)((uv_hrtime() - r->started) / 1000000);
      if (left_ms <= 0) return;
      struct pollfd p = {.fd = r->out_fd, .events = POLLOUT};
      int rc = poll(&p, 1, left_ms);
      if (rc > 0 || (rc < 0 && errno == EINTR)) continue; /* writable, or an error the next sendfile reports */
      return;
    }
    r->err = errno;
    return;
  }
#else
  r->err = ENOSYS;
#endif
}

static void send_complete(napi_env env, napi_status status, void *arg) {
  send_req *r = (send_req *)arg;
  napi_value v;
  if (status != napi_ok) {
    napi_value msg;
    napi_create_string_utf8(env, "wharf_io: send was cancelled", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &v);
    napi_reject_deferred(env, r->deferred, v);
  } else if (r->err != 0) {
    napi_reject_deferred(env, r->deferred, errno_error(env, "sendfile", r->err));
  } else {
    napi_create_int64(env, r->sent, &v);
    napi_resolve_deferred(env, r->deferred, v);
  }
  napi_delete_async_work(env, r->work);
  free(r);
}

static napi_value js_send(napi_env env, napi_callback_info info) {
  napi_value argv[5], promise, name;
  int out_fd, in_fd;
  int64_t offset, count, wait_ms = 0;
  if (!get_args(env, info, 5, argv)) return NULL;
  if (!get_fd(env, argv[0], &out_fd) || !get_fd(env, argv[1], &in_fd)) return NULL;
  if (!get_size(env, argv[2], "offset", &offset) || !get_size(env, argv[3], "count", &count)) return NULL;
  if (!get_size(env, argv[4], "waitMs", &wait_ms) || wait_ms > 1000) {
    if (wait_ms > 1000) napi_throw_range_error(env, NULL, "wharf_io: waitMs must be at most 1000");
    return NULL;
  }
  send_req *r = (send_req *)calloc(1, sizeof *r);
  if (r == NULL) {
    napi_throw_error(env, NULL, "wharf_io: out of memory");
    return NULL;
  }
  r->out_fd = out_fd;
  r->in_fd = in_fd;
  r->offset = offset;
  r->count = count;
  r->wait_ms = (int)wait_ms;
  if (napi_create_promise(env, &r->deferred, &promise) != napi_ok ||
      napi_create_string_utf8(env, "wharf_io.send", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, send_execute, send_complete, r, &r->work) != napi_ok ||
      napi_queue_async_work(env, r->work) != napi_ok) {
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (!pending) napi_throw_error(env, NULL, "wharf_io: could not queue a send");
    return NULL; /* leak the small request rather than risk a double free */
  }
  return promise;
}

/* ------------------------------------------------------------------ waitWritable (event loop) */

typedef struct {
  uv_poll_t poll;
  napi_env env;
  napi_deferred deferred;
} wait_req;

static void wait_closed(uv_handle_t *h) {
  free(h->data);
}

static void wait_ready(uv_poll_t *p, int status, int events) {
  (void)status;
  (void)events;
  wait_req *w = (wait_req *)p->data;
  napi_handle_scope scope;
  napi_value undefined;
  uv_poll_stop(p);
  /* uv_close removes our descriptor from the loop's epoll set right away, so
     the caller may close the descriptor as soon as the promise settles. */
  uv_close((uv_handle_t *)p, wait_closed);
  if (napi_open_handle_scope(w->env, &scope) != napi_ok) return;
  napi_get_undefined(w->env, &undefined);
  napi_resolve_deferred(w->env, w->deferred, undefined);
  napi_close_handle_scope(w->env, scope);
}

static napi_value js_wait_writable(napi_env env, napi_callback_info info) {
  napi_value argv[1], promise;
  int fd, rc;
  uv_loop_t *loop;
  if (!get_args(env, info, 1, argv) || !get_fd(env, argv[0], &fd)) return NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    napi_throw_error(env, NULL, "wharf_io: no event loop");
    return NULL;
  }
  wait_req *w = (wait_req *)calloc(1, sizeof *w);
  if (w == NULL) {
    napi_throw_error(env, NULL, "wharf_io: out of memory");
    return NULL;
  }
  w->env = env;
  w->poll.data = w;
  rc = uv_poll_init(loop, &w->poll, fd);
  if (rc != 0) {
    free(w);
    throw_errno(env, "uv_poll_init", -rc);
    return NULL;
  }
  rc = uv_poll_start(&w->poll, UV_WRITABLE | UV_DISCONNECT, wait_ready);
  if (rc != 0) {
    uv_close((uv_handle_t *)&w->poll, wait_closed);
    throw_errno(env, "uv_poll_start", -rc);
    return NULL;
  }
  if (napi_create_promise(env, &w->deferred, &promise) != napi_ok) {
    uv_poll_stop(&w->poll);
    uv_close((uv_handle_t *)&w->poll, wait_closed);
    return NULL;
  }
  return promise;
}

/* ------------------------------------------------------------------ module */

NAPI_MODULE_INIT() {
  napi_value supported;
  napi_get_boolean(env, WHARF_HAVE_SENDFILE != 0, &supported);
  napi_property_descriptor props[] = {
      {"dup", NULL, js_dup, NULL, NULL, NULL, napi_enumerable, NULL},
      {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"shutdown", NULL, js_shutdown, NULL, NULL, NULL, napi_enumerable, NULL},
      {"send", NULL, js_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"waitWritable", NULL, js_wait_writable, NULL, NULL, NULL, napi_enumerable, NULL},
      {"supported", NULL, NULL, NULL, NULL, supported, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return NULL;
  return exports;
}
