// Experiment (not part of Wharf's build): two ways to take a request body's
// bytes from a socket outside JavaScript, on the libuv threadpool.
//   recvInto(sock, buffer, waitMs) -> Promise<n>   read(2) into a JS buffer until it is full
//                                                  or the socket stays empty for waitMs
//   spliceToFile(sock, file, offset, count, waitMs) -> Promise<n>
//                                                  splice(2) socket -> pipe -> file at offset
// Both resolve with the bytes moved, 0 at end of stream, -1 when nothing came
// within waitMs. See README.md here and bench/PROFILE.md (2026-12-05, evening).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <node_api.h>
#include <uv.h>

typedef struct {
  napi_async_work work; napi_deferred deferred; napi_ref bufref;
  int sock, file; char *buf; int64_t len, off, done; int wait_ms; int err; int splice;
} job;

static int wait_in(int fd, uint64_t start, int wait_ms) {
  int left = wait_ms - (int)((uv_hrtime() - start) / 1000000);
  if (left <= 0) return 0;
  struct pollfd p = {.fd = fd, .events = POLLIN};
  int rc = poll(&p, 1, left);
  return rc > 0 || (rc < 0 && errno == EINTR);
}

static void exec_job(napi_env env, void *arg) {
  job *j = arg; uint64_t start = uv_hrtime();
  if (!j->splice) {
    while (j->done < j->len) {
      ssize_t n = read(j->sock, j->buf + j->done, (size_t)(j->len - j->done));
      if (n > 0) { j->done += n; continue; }
      if (n == 0) return;
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        if (j->done >= (1 << 20)) return; /* enough for one batch: hand it over */
        if (!wait_in(j->sock, start, j->wait_ms)) { if (j->done == 0) j->done = -1; return; }
        continue;
      }
      j->err = errno; return;
    }
    return;
  }
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) { j->err = errno; return; }
  fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
  loff_t off = j->off;
  while (j->done < j->len) {
    ssize_t n = splice(j->sock, NULL, p[1], NULL, (size_t)(j->len - j->done > (1<<20) ? (1<<20) : j->len - j->done), SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        if (j->done > 0) break;
        if (!wait_in(j->sock, start, j->wait_ms)) { j->done = -1; break; }
        continue;
      }
      j->err = errno; break;
    }
    ssize_t left = n;
    while (left > 0) {
      ssize_t m = splice(p[0], NULL, j->file, &off, (size_t)left, SPLICE_F_MOVE);
      if (m <= 0) { if (m < 0 && errno == EINTR) continue; j->err = m < 0 ? errno : EIO; goto out; }
      left -= m;
    }
    j->done += n;
  }
out:
  close(p[0]); close(p[1]);
}

static void done_job(napi_env env, napi_status st, void *arg) {
  job *j = arg; napi_value v;
  if (j->err) { napi_value m; napi_create_string_utf8(env, strerror(j->err), NAPI_AUTO_LENGTH, &m); napi_create_error(env, NULL, m, &v); napi_reject_deferred(env, j->deferred, v); }
  else { napi_create_int64(env, j->done, &v); napi_resolve_deferred(env, j->deferred, v); }
  if (j->bufref) napi_delete_reference(env, j->bufref);
  napi_delete_async_work(env, j->work); free(j);
}

static napi_value start(napi_env env, job *j) {
  napi_value promise, name;
  napi_create_promise(env, &j->deferred, &promise);
  napi_create_string_utf8(env, "proto", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, exec_job, done_job, j, &j->work);
  napi_queue_async_work(env, j->work);
  return promise;
}

static napi_value recv_into(napi_env env, napi_callback_info info) {
  size_t argc = 3; napi_value a[3]; napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  job *j = calloc(1, sizeof *j); int32_t fd, w; void *data; size_t len;
  napi_get_value_int32(env, a[0], &fd); napi_get_buffer_info(env, a[1], &data, &len); napi_get_value_int32(env, a[2], &w);
  j->sock = fd; j->buf = data; j->len = (int64_t)len; j->wait_ms = w;
  napi_create_reference(env, a[1], 1, &j->bufref);
  return start(env, j);
}

static napi_value splice_to_file(napi_env env, napi_callback_info info) {
  size_t argc = 5; napi_value a[5]; napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  job *j = calloc(1, sizeof *j); int32_t s, f, w; int64_t off, cnt;
  napi_get_value_int32(env, a[0], &s); napi_get_value_int32(env, a[1], &f); napi_get_value_int64(env, a[2], &off); napi_get_value_int64(env, a[3], &cnt); napi_get_value_int32(env, a[4], &w);
  j->sock = s; j->file = f; j->off = off; j->len = cnt; j->wait_ms = w; j->splice = 1;
  return start(env, j);
}

static napi_value js_dup(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value a[1], r; int32_t fd; napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  napi_get_value_int32(env, a[0], &fd); napi_create_int32(env, fcntl(fd, F_DUPFD_CLOEXEC, 0), &r); return r;
}
static napi_value js_close(napi_env env, napi_callback_info info) {
  size_t argc = 1; napi_value a[1]; int32_t fd; napi_get_cb_info(env, info, &argc, a, NULL, NULL);
  napi_get_value_int32(env, a[0], &fd); close(fd); return NULL;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor p[] = {
    {"recvInto", NULL, recv_into, NULL, NULL, NULL, napi_enumerable, NULL},
    {"spliceToFile", NULL, splice_to_file, NULL, NULL, NULL, napi_enumerable, NULL},
    {"dup", NULL, js_dup, NULL, NULL, NULL, napi_enumerable, NULL},
    {"close", NULL, js_close, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, 4, p);
  return exports;
}
