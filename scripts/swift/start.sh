#!/usr/bin/env bash
# start.sh - start a real, single-node, single-replica OpenStack Swift
# ("Swift All In One") on 127.0.0.1 with the native Swift API (tempauth) and
# the S3 API (Swift's s3api middleware).  Idempotent.  See scripts/swift/README.md.
#
# stdout: only the `export ...` line a test needs (so `eval "$(start.sh)"`
# works); progress and errors go to stderr.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DIR=${SWIFT_SAIO_DIR:-/tmp/swift-saio}
PORT=${SWIFT_PORT:-8080}
ACCOUNT_PORT=${SWIFT_ACCOUNT_PORT:-6212}
CONTAINER_PORT=${SWIFT_CONTAINER_PORT:-6211}
OBJECT_PORT=${SWIFT_OBJECT_PORT:-6210}
TIMEOUT=${SWIFT_START_TIMEOUT:-60}
# Swift comes from Debian's python3-swift: always use Debian's interpreter,
# never a pyenv/venv python3 that happens to be first on PATH.
PY=${SWIFT_PYTHON:-/usr/bin/python3}
SERVERS="account-server container-server object-server proxy-server"

say() { echo "swift-saio: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

for v in PORT ACCOUNT_PORT CONTAINER_PORT OBJECT_PORT TIMEOUT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a number (got '${!v}')"
done
[ -x "$PY" ] || die "$PY not found (apt-get install python3)"

mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd -P)
mkdir -p "$DIR"/{etc,lib,log,run,cache,srv/d1}
touch "$DIR/.swift-saio"   # marker: stop.sh --purge only wipes dirs carrying it
SUPPORT="$DIR/lib/saio_support.py"
RUN_USER=$(id -un 2>/dev/null || echo root)  # unused with workers = 0

env_line() {
  local u="http://127.0.0.1:$PORT"
  echo "export SWIFT_AUTH_URL=$u/auth/v1.0 SWIFT_USER=test:tester SWIFT_KEY=testing" \
       "SWIFT_STORAGE_URL=$u/v1/AUTH_test ST_AUTH=$u/auth/v1.0 ST_USER=test:tester ST_KEY=testing" \
       "S3_ENDPOINT=$u S3_ACCESS_KEY=test:tester S3_SECRET_KEY=testing S3_REGION=us-east-1" \
       "S3_FORCE_PATH_STYLE=true AWS_REQUEST_CHECKSUM_CALCULATION=when_required" \
       "AWS_RESPONSE_CHECKSUM_VALIDATION=when_required"
}

# One start.sh at a time per state dir (fd 9 is closed for the daemons).
if command -v flock >/dev/null; then
  exec 9>"$DIR/run/start.lock"
  flock -w "$TIMEOUT" 9 || die "another start.sh holds $DIR/run/start.lock"
fi

# ---------------------------------------------------------------- support code
cat >"$SUPPORT" <<'PYEOF'
"""Helper for the Swift SAIO CI scripts.  Written by start.sh: do not edit.

  saio_support.py launch NAME CONF LOG   run one Swift WSGI server (foreground)
  saio_support.py prepare A C O PORTS..  check xattrs + free ports, build rings
  saio_support.py wait TIMEOUT PROXY_PORT BACKEND_PORTS PIDS
"""
import http.client
import json
import os
import socket
import sys
import time as _time

LIB = os.path.dirname(os.path.abspath(__file__))
STATE = os.path.dirname(LIB)
ETC = os.path.join(STATE, 'etc')
PART_POWER = 10


def fail(msg):
    sys.stderr.write('swift-saio: ERROR: %s\n' % msg)
    sys.exit(1)


# --------------------------------------------------------------------- launch
def launch(name, conf, log_file):
    # Drop every inherited descriptor but stdio, so that no caller's pipe
    # (CI step output, `$(start.sh)`, a lock) is held open by the daemon.
    for fd in [int(fd) for fd in os.listdir('/proc/self/fd')]:
        if fd > 2:
            try:
                os.close(fd)
            except OSError:
                pass  # e.g. the descriptor listdir itself used
    import logging
    from swift.common import utils
    # Use <state>/etc/swift.conf (hash prefix/suffix, storage policy,
    # constraints) instead of the system-wide /etc/swift/swift.conf.
    utils.SWIFT_CONF_FILE = os.path.join(ETC, 'swift.conf')
    utils.HASH_PATH_PREFIX = utils.HASH_PATH_SUFFIX = b''
    utils.validate_configuration()

    class FileLogHandler(logging.FileHandler):
        """Stands in for Swift's syslog handler: no rsyslog, plain file."""
        def __init__(self, *args, **kwargs):
            logging.FileHandler.__init__(self, log_file)

        def format(self, record):
            return '%s %s' % (_time.strftime('%Y-%m-%dT%H:%M:%SZ',
                                             _time.gmtime()),
                              logging.FileHandler.format(self, record))

    utils.ThreadSafeSysLogHandler = FileLogHandler
    from swift.common import constraints, storage_policy
    constraints.reload_constraints()
    storage_policy.reload_storage_policies()
    from swift.common.wsgi import run_wsgi
    return run_wsgi(conf, name)


# ---------------------------------------------------------------------- cache
class InProcessMemcache(object):
    """Single-process stand-in for swift.common.memcached.MemcacheRing.

    tempauth keeps its tokens in memcache and the proxy caches account and
    container info there.  The proxy runs as one process (workers = 0), so a
    dict does the job and no memcached daemon is needed.  Values go through
    JSON like the real client does; TTLs are honoured.
    """

    def __init__(self):
        self._data = {}
        self._writes = 0

    @staticmethod
    def _expires(timeout):
        timeout = float(timeout or 0)
        if timeout <= 0:
            return None
        if timeout > 30 * 24 * 3600:  # absolute unix time, as in memcached
            return timeout
        return _time.time() + timeout

    def _lookup(self, key):
        item = self._data.get(key)
        if item is not None and item[2] is not None and \
                item[2] <= _time.time():
            del self._data[key]
            item = None
        return item

    def _store(self, key, item):
        self._data[key] = item
        self._writes += 1
        if self._writes % 1000 == 0:
            now = _time.time()
            for k in [k for k, v in self._data.items()
                      if v[2] is not None and v[2] <= now]:
                del self._data[k]

    def set(self, key, value, serialize=True, time=0, min_compress_len=0,
            **kwargs):
        if serialize:
            value = json.dumps(value)
        elif not isinstance(value, bytes):
            value = str(value).encode('utf-8')
        self._store(key, (serialize, value, self._expires(time)))

    def get(self, key, **kwargs):
        item = self._lookup(key)
        if item is None:
            return None
        return json.loads(item[1]) if item[0] else item[1]

    def incr(self, key, delta=1, time=0, **kwargs):
        item = self._lookup(key)
        value = max(0, (int(item[1]) if item else 0) + int(delta))
        expires = item[2] if item else self._expires(time)
        self._store(key, (False, str(value).encode('ascii'), expires))
        return value

    def decr(self, key, delta=1, time=0, **kwargs):
        return self.incr(key, -delta, time)

    def delete(self, key, *args, **kwargs):
        self._data.pop(key, None)

    def set_multi(self, mapping, server_key=None, serialize=True, time=0,
                  min_compress_len=0, **kwargs):
        for key, value in mapping.items():
            self.set(key, value, serialize=serialize, time=time)

    def get_multi(self, keys, server_key=None, **kwargs):
        return [self.get(key) for key in keys]


def cache_filter_factory(global_conf, **local_conf):
    cache = InProcessMemcache()

    def cache_filter(app):
        def middleware(env, start_response):
            env['swift.cache'] = cache
            return app(env, start_response)
        return middleware
    return cache_filter


# ------------------------------------------------------------- s3 compat shim
MAX_DELETE_BODY = 4 * 1024 * 1024


def _checksum_ok(env, body):
    """Verify the x-amz-checksum-* headers we can check with the stdlib."""
    import base64
    import hashlib
    import zlib
    digests = {
        'CRC32': lambda b: (zlib.crc32(b) & 0xffffffff).to_bytes(4, 'big'),
        'SHA1': lambda b: hashlib.sha1(b).digest(),
        'SHA256': lambda b: hashlib.sha256(b).digest(),
    }
    for alg, fn in digests.items():
        given = env.get('HTTP_X_AMZ_CHECKSUM_' + alg)
        if given is not None and \
                given.strip() != base64.b64encode(fn(body)).decode('ascii'):
            return False
    return True


def s3_checksum_compat_filter_factory(global_conf, **local_conf):
    """S3 DeleteObjects: accept x-amz-checksum-* in place of Content-MD5.

    Current AWS SDKs send a CRC32 (x-amz-checksum-crc32) instead of
    Content-MD5 with DeleteObjects; AWS S3 accepts either, Swift 2.30's s3api
    insists on Content-MD5.  For such SigV4 requests this filter (placed
    before s3api) checks the given checksum and adds the Content-MD5 header.
    Content-MD5 is not among the SigV4-signed headers, so signatures hold.
    """
    import base64
    import hashlib
    import io
    from urllib.parse import parse_qs

    def compat_filter(app):
        def middleware(env, start_response):
            try:
                length = int(env.get('CONTENT_LENGTH') or -1)
            except ValueError:
                length = -1
            if (env.get('REQUEST_METHOD') == 'POST'
                    and 'HTTP_CONTENT_MD5' not in env
                    and 0 <= length <= MAX_DELETE_BODY
                    and env.get('HTTP_AUTHORIZATION', '').startswith(
                        'AWS4-HMAC-SHA256')
                    and any(k.startswith('HTTP_X_AMZ_CHECKSUM_')
                            for k in env)
                    and 'delete' in parse_qs(env.get('QUERY_STRING', ''),
                                             keep_blank_values=True)):
                body = env['wsgi.input'].read(length)
                env['wsgi.input'] = io.BytesIO(body)
                if _checksum_ok(env, body):
                    env['HTTP_CONTENT_MD5'] = base64.b64encode(
                        hashlib.md5(body).digest()).decode('ascii')
            return app(env, start_response)
        return middleware
    return compat_filter


# -------------------------------------------------------------------- prepare
def prepare(account_port, container_port, object_port, *ports):
    import importlib.util
    try:
        missing = [m for m in ('swift.proxy.server', 'swift.account.server',
                               'swift.container.server', 'swift.obj.server',
                               'swift.common.middleware.s3api.s3api')
                   if importlib.util.find_spec(m) is None]
    except ImportError:
        missing = ['swift']
    if missing:
        fail('%s cannot import %s: apt-get install swift swift-proxy '
             'swift-account swift-container swift-object' % (
                 sys.executable, ', '.join(missing)))

    dev = os.path.join(STATE, 'srv', 'd1')
    probe = os.path.join(dev, '.saio-xattr-probe')
    open(probe, 'wb').close()
    try:
        for i in range(4):  # Swift stores object metadata in user xattrs
            os.setxattr(probe, 'user.swift.saio%d' % i, b'x' * 254)
    except OSError as e:
        fail('%s does not support user xattrs (%s); point SWIFT_SAIO_DIR at '
             'a directory on ext4/xfs/btrfs' % (dev, e))
    finally:
        os.unlink(probe)

    busy = []
    for port in ports:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(('127.0.0.1', int(port)))
        except OSError:
            busy.append(port)
        finally:
            sock.close()
    if busy:
        fail('port(s) %s on 127.0.0.1 already in use by another process; '
             'set SWIFT_PORT / SWIFT_ACCOUNT_PORT / SWIFT_CONTAINER_PORT / '
             'SWIFT_OBJECT_PORT' % ' '.join(busy))

    want = {'part_power': PART_POWER, 'account': int(account_port),
            'container': int(container_port), 'object': int(object_port)}
    stamp = os.path.join(ETC, 'rings.json')
    try:
        with open(stamp) as f:
            have = json.load(f)
    except (OSError, ValueError):
        have = None
    if have == want and all(os.path.exists(os.path.join(ETC, k + '.ring.gz'))
                            for k in ('account', 'container', 'object')):
        return
    from swift.common.ring import RingBuilder
    for kind in ('account', 'container', 'object'):
        builder = RingBuilder(PART_POWER, 1, 0)  # 1 replica, 1 device
        builder.add_dev({'id': 0, 'region': 1, 'zone': 1,
                         'ip': '127.0.0.1', 'port': want[kind],
                         'replication_ip': '127.0.0.1',
                         'replication_port': want[kind],
                         'device': 'd1', 'weight': 100.0, 'meta': ''})
        builder.rebalance(seed=1)
        builder.save(os.path.join(ETC, kind + '.builder'))
        builder.get_ring().save(os.path.join(ETC, kind + '.ring.gz'))
    with open(stamp, 'w') as f:
        json.dump(want, f)


# ----------------------------------------------------------------------- wait
def _request(port, method, path, headers=None, timeout=10):
    conn = http.client.HTTPConnection('127.0.0.1', int(port), timeout=timeout)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.getheaders(), resp.read()
    finally:
        conn.close()


def _alive(pid):
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            return os.path.abspath(__file__).encode() in f.read()
    except OSError:
        return False


def _smoke_test(port):
    """Auth, then create, list and delete a container."""
    status, headers, _ = _request(port, 'GET', '/auth/v1.0', {
        'X-Auth-User': 'test:tester', 'X-Auth-Key': 'testing'})
    if status != 200:
        return 'auth answered %d' % status
    headers = dict((k.lower(), v) for k, v in headers)
    token = {'X-Auth-Token': headers['x-auth-token']}
    path = '/' + headers['x-storage-url'].split('/', 3)[3]
    cont = path + '/saio-startup-check'
    status = _request(port, 'PUT', cont, token)[0]
    if status not in (201, 202):
        return 'container PUT answered %d' % status
    status, _, body = _request(port, 'GET', path + '?format=json', token)
    if status != 200 or 'saio-startup-check' not in [
            c['name'] for c in json.loads(body)]:
        return 'account listing answered %d %r' % (status, body[:200])
    status = _request(port, 'DELETE', cont, token)[0]
    if status != 204:
        return 'container DELETE answered %d' % status
    return None


def wait(timeout, proxy_port, backend_ports, pids):
    deadline = _time.time() + float(timeout)
    pids = [int(p) for p in pids.split(',')]
    pending = [proxy_port] + backend_ports.split(',')
    problem = None
    while True:
        dead = [p for p in pids if not _alive(p)]
        if dead:
            fail('server process(es) %s exited; see logs' % dead)
        if pending:
            still = []
            for port in pending:
                try:
                    if _request(port, 'GET', '/healthcheck', timeout=2)[0] \
                            != 200:
                        still.append(port)
                except OSError:
                    still.append(port)
            pending = still
            problem = pending and 'no /healthcheck on port(s) %s' % \
                ' '.join(pending)
        if not pending:
            try:
                problem = _smoke_test(proxy_port)
            except (OSError, http.client.HTTPException, KeyError,
                    ValueError) as e:
                problem = 'smoke test: %r' % e
            if not problem:
                return
        if _time.time() >= deadline:
            fail('not ready after %ss: %s' % (timeout, problem))
        _time.sleep(0.1)


if __name__ == '__main__':
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == 'launch':
        sys.exit(launch(*args))
    elif cmd == 'prepare':
        prepare(*args)
    elif cmd == 'wait':
        wait(*args)
    else:
        fail('unknown command %r' % cmd)
PYEOF

# ------------------------------------------------------------------- helpers
# pid of a running server of *this* state dir, or nothing (checks cmdline, so
# a stale pid file or a recycled pid never matches).
running_pid() {
  local name=$1 pid args
  [ -s "$DIR/run/$name.pid" ] || return 1
  pid=$(cat "$DIR/run/$name.pid")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  mapfile -d '' -t args 2>/dev/null <"/proc/$pid/cmdline" || return 1
  [ "${args[1]:-}" = "$SUPPORT" ] && [ "${args[3]:-}" = "$name" ] || return 1
  echo "$pid"
}

all_pids() {
  local name pid pids=()
  for name in $SERVERS; do
    pid=$(running_pid "$name") || return 1
    pids+=("$pid")
  done
  (IFS=,; echo "${pids[*]}")
}

run_py() {
  env -u PYTHONHOME PYTHONPATH="$DIR/lib" PYTHONNOUSERSITE=1 EVENTLET_NO_GREENDNS=yes "$PY" "$@"
}

# ------------------------------------------------------- already running?
if running=$(all_pids); then
  if run_py "$SUPPORT" wait 30 "$PORT" "$ACCOUNT_PORT,$CONTAINER_PORT,$OBJECT_PORT" "$running"; then
    say "already running and healthy (pids $running, state dir $DIR)"
    env_line | tee "$DIR/env"
    exit 0
  fi
  say "running but not healthy: restarting"
fi
bash "$here/stop.sh" >&2   # leftovers of a previous run (recorded pids only)

# --------------------------------------------------------------------- config
t0=$(date +%s.%N)
if [ ! -s "$DIR/etc/swift.conf" ]; then
  # hash prefix/suffix must never change once data exists: generated once.
  cat >"$DIR/etc/swift.conf" <<EOF
[swift-hash]
swift_hash_path_prefix = saio-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
swift_hash_path_suffix = saio-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')

[storage-policy:0]
name = Policy-0
default = yes

[swift-constraints]
EOF
fi

common_conf() {  # $1 = server name, $2 = port
  cat <<EOF
# generated by start.sh - edits are overwritten on the next start
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = $2
# 0 = one process, no forking (small, and the in-process cache is shared)
workers = 0
user = $RUN_USER
swift_dir = $DIR/etc
devices = $DIR/srv
mount_check = false
disable_fallocate = true
fallocate_reserve = 0
recon_cache_path = $DIR/cache
log_name = $1
log_level = ${SWIFT_LOG_LEVEL:-INFO}
EOF
}

{ common_conf account-server "$ACCOUNT_PORT"; cat <<EOF

[pipeline:main]
pipeline = healthcheck account-server

[app:account-server]
use = egg:swift#account

[filter:healthcheck]
use = egg:swift#healthcheck
EOF
} >"$DIR/etc/account-server.conf"

{ common_conf container-server "$CONTAINER_PORT"; cat <<EOF

[pipeline:main]
pipeline = healthcheck container-server

[app:container-server]
use = egg:swift#container
allow_versions = true

[filter:healthcheck]
use = egg:swift#healthcheck
EOF
} >"$DIR/etc/container-server.conf"

{ common_conf object-server "$OBJECT_PORT"; cat <<EOF

[pipeline:main]
pipeline = healthcheck object-server

[app:object-server]
use = egg:swift#object

[filter:healthcheck]
use = egg:swift#healthcheck
EOF
} >"$DIR/etc/object-server.conf"

S3_COMPAT=s3_checksum_compat
[ "${SWIFT_SAIO_S3_COMPAT:-1}" = 0 ] && S3_COMPAT=
{ common_conf proxy-server "$PORT"; cat <<EOF

[pipeline:main]
# s3api must sit before tempauth; slo after both (S3 multipart uploads are
# stored as SLOs); proxy-logging twice so subrequests are logged too.
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl $S3_COMPAT s3api tempauth copy container-quotas account-quotas slo dlo versioned_writes symlink proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
allow_account_management = true

[filter:s3api]
use = egg:swift#s3api
# region used for SigV4 signatures and GetBucketLocation
location = us-east-1
# s3_acl = false (default): permissions come from Swift (tester is .admin)

[filter:tempauth]
use = egg:swift#tempauth
# user_<account>_<user> = <key> [groups]
user_admin_admin = admin .admin .reseller_admin
user_test_tester = testing .admin
user_test_tester3 = testing3
user_test2_tester2 = testing2 .admin

[filter:s3_checksum_compat]
# DeleteObjects from current AWS SDKs (see lib/saio_support.py)
paste.filter_factory = saio_support:s3_checksum_compat_filter_factory

[filter:cache]
# in-process stand-in for memcached (see lib/saio_support.py)
paste.filter_factory = saio_support:cache_filter_factory

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:bulk]
use = egg:swift#bulk

[filter:tempurl]
use = egg:swift#tempurl

[filter:copy]
use = egg:swift#copy

[filter:container-quotas]
use = egg:swift#container_quotas

[filter:account-quotas]
use = egg:swift#account_quotas

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo

[filter:versioned_writes]
use = egg:swift#versioned_writes
allow_versioned_writes = true
allow_object_versioning = true

[filter:symlink]
use = egg:swift#symlink
EOF
} >"$DIR/etc/proxy-server.conf"

run_py "$SUPPORT" prepare "$ACCOUNT_PORT" "$CONTAINER_PORT" "$OBJECT_PORT" \
  "$PORT" "$ACCOUNT_PORT" "$CONTAINER_PORT" "$OBJECT_PORT"

# ---------------------------------------------------------------------- start
pids=()
for name in $SERVERS; do
  echo "=== $(date -u +%FT%TZ) start.sh: starting $name" >>"$DIR/log/$name.log"
  # a plain command, not a function: $! must be the server's own pid
  # shellcheck disable=SC2094  # the log path is an argument, not read here
  # EVENTLET_NO_GREENDNS: skips importing dnspython (~1 s per server); only
  # IP addresses are resolved here.
  env -u PYTHONHOME PYTHONPATH="$DIR/lib" PYTHONNOUSERSITE=1 EVENTLET_NO_GREENDNS=yes \
    "$PY" "$SUPPORT" launch "$name" "$DIR/etc/$name.conf" "$DIR/log/$name.log" \
    </dev/null >>"$DIR/log/$name.log" 2>&1 9>&- &
  echo $! >"$DIR/run/$name.pid"
  pids+=($!)
done
say "started pids ${pids[*]}; waiting for http://127.0.0.1:$PORT (timeout ${TIMEOUT}s)"

if ! run_py "$SUPPORT" wait "$TIMEOUT" "$PORT" \
     "$ACCOUNT_PORT,$CONTAINER_PORT,$OBJECT_PORT" "$(IFS=,; echo "${pids[*]}")"; then
  for name in $SERVERS; do
    say "--- last lines of $DIR/log/$name.log"
    tail -n 20 "$DIR/log/$name.log" >&2 || true
  done
  bash "$here/stop.sh" >&2 || true
  exit 1
fi
t1=$(date +%s.%N)
say "ready in $(awk "BEGIN{printf \"%.1f\", $t1-$t0}")s: proxy http://127.0.0.1:$PORT (Swift + S3), state dir $DIR"
env_line | tee "$DIR/env"
