#!/usr/bin/env bash
# A real, RBAC-enforcing Kubernetes control plane (etcd + kube-apiserver, no controller-manager,
# no kubelet) on loopback, for tests. Usage: cluster.sh up|down|status|restart-apiserver   (npm run cluster -- up)
# State (pids, logs, pki, etcd data, kubeconfig) lives in <repo>/.cluster/ and is removed by `down`.
# Env: PIER_APISERVER_PORT / PIER_ETCD_PORT pin ports (default: free ones),
#      PIER_CLUSTER_READY_TIMEOUT seconds to wait for /readyz (default 120).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
state="$root/.cluster"
pki="$state/pki"
kubeconfig="$state/kubeconfig"
# shellcheck source=versions.env
source "$here/versions.env"

die() { echo "cluster: error: $*" >&2; exit 1; }
say() { echo "cluster: $*" >&2; }

# A pid file only counts if the process is still the binary we started (pids get recycled).
live_pid() { # <name: etcd|kube-apiserver>
  local file="$state/$1.pid" pid
  [ -f "$file" ] || return 1
  pid="$(cat "$file")"
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  # Compare in-shell: `tr | grep -q` fails under pipefail when grep exits first (SIGPIPE).
  [[ "$(tr '\0' ' ' <"/proc/$pid/cmdline")" == */"$1 "* ]] && echo "$pid"
}

apiserver_url() { [ -f "$state/cluster.env" ] && sed -n 's/^APISERVER_URL=//p' "$state/cluster.env"; }

is_ready() {
  local url
  url="$(apiserver_url)" && [ -n "$url" ] && live_pid etcd >/dev/null && live_pid kube-apiserver >/dev/null &&
    curl -fsS --max-time 5 --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" "$url/readyz" >/dev/null 2>&1
}

free_port() {
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

check_port_free() { # <port> <what>
  if ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; then
    die "port $1 on 127.0.0.1 (for $2) is busy; free it or pick another port (see the env vars at the top of $0)"
  fi
}

# Exited, or a zombie: the daemons' parent is whoever adopted them, which may reap late.
exited() { [ ! -d "/proc/$1" ] || grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null; }

stop_pid() { # <name>: SIGTERM, wait up to 20 s, then SIGKILL
  local pid i
  pid="$(live_pid "$1")" || return 0
  kill "$pid" 2>/dev/null || true
  for i in $(seq 1 200); do exited "$pid" && return 0; sleep 0.1; done
  say "$1 (pid $pid) ignored SIGTERM for 20 s; killing it"
  kill -9 "$pid" 2>/dev/null || true
  for i in $(seq 1 50); do exited "$pid" && return 0; sleep 0.1; done
  die "$1 (pid $pid) did not exit"
}

make_pki() {
  mkdir -p "$pki" && chmod 700 "$pki"
  (
    cd "$pki"
    openssl req -x509 -newkey rsa:2048 -nodes -days 7 -keyout ca.key -out ca.crt -subj "/CN=pier-test-ca" \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver"
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 7 -out apiserver.crt \
      -extfile <(printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:10.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n')
    # O=system:masters is what the bootstrap cluster-admin binding grants everything to.
    openssl req -newkey rsa:2048 -nodes -keyout admin.key -out admin.csr -subj "/O=system:masters/CN=pier-test-admin"
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 7 -out admin.crt \
      -extfile <(printf 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n')
    openssl genrsa -out sa.key 2048
    openssl rsa -in sa.key -pubout -out sa.pub
    rm -f ./*.csr ca.srl
  ) >"$state/pki.log" 2>&1 || die "making the PKI with openssl failed; see $state/pki.log"
}

write_kubeconfig() { # <server url>; absolute cert paths so kubectl and client-node read it as is
  cat >"$kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: pier-test
  cluster:
    server: $1
    certificate-authority: $pki/ca.crt
users:
- name: pier-test-admin
  user:
    client-certificate: $pki/admin.crt
    client-key: $pki/admin.key
contexts:
- name: pier-test
  context:
    cluster: pier-test
    user: pier-test-admin
current-context: pier-test
EOF
  chmod 600 "$kubeconfig"
}

# Starts a daemon in its own session (so a Ctrl-C aimed at the caller doesn't kill it), with
# every fd pointed at files so callers that capture output don't wait on it, and without fd 9
# (the up/down lock), which it would otherwise hold for its whole life.
start_daemon() { # <name> <binary> <args...>
  local name="$1"; shift
  setsid "$@" >"$state/$name.log" 2>&1 </dev/null 9>&- &
  echo $! >"$state/$name.pid"
}

fail_start() { # <name> <message>
  local log="$state/$1.log"
  {
    echo "cluster: error: $2; its log is $log, last lines:"
    tail -n 25 "$log" 2>/dev/null | sed 's/^/  | /'
  } >&2
  if grep -qi 'address already in use' "$log" 2>/dev/null; then echo "cluster: error: a port is busy (see the log above)" >&2; fi
  stop_pid kube-apiserver || true
  stop_pid etcd || true
  echo "cluster: the state is kept in $state for inspection; \`$0 down\` removes it" >&2
  exit 1
}

wait_for() { # <name> <timeout s> <check command...>
  local name="$1" timeout="$2" deadline; shift 2
  deadline=$(( $(date +%s) + timeout ))
  until "$@" >/dev/null 2>&1; do
    live_pid "$name" >/dev/null || fail_start "$name" "$name exited during startup"
    [ "$(date +%s)" -lt "$deadline" ] || fail_start "$name" "$name was not ready after ${timeout} s"
    sleep 0.5
  done
}

# envtest's flags, plus: no ServiceAccount admission (no controller-manager makes a "default"
# SA), no endpoint reconciler (a loopback address can't back the kubernetes Service), and
# priority-and-fairness/profiling off to stay light on 2 cores. `up` and `restart-apiserver` share it.
start_apiserver() { # <bin dir> <etcd url> <server url https://127.0.0.1:PORT>
  local bin="$1" etcd_url="$2" server="$3"
  start_daemon kube-apiserver "$bin/kube-apiserver" \
    --etcd-servers="$etcd_url" \
    --bind-address=127.0.0.1 --secure-port="${server##*:}" \
    --cert-dir="$pki" --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
    --client-ca-file="$pki/ca.crt" \
    --authorization-mode=RBAC \
    --service-account-issuer="$server" \
    --service-account-key-file="$pki/sa.pub" \
    --service-account-signing-key-file="$pki/sa.key" \
    --service-cluster-ip-range=10.0.0.0/24 \
    --allow-privileged=true \
    --disable-admission-plugins=ServiceAccount \
    --endpoint-reconciler-type=none \
    --enable-priority-and-fairness=false \
    --profiling=false \
    -v=1
}

wait_for_apiserver() { # <server url>
  wait_for kube-apiserver "${PIER_CLUSTER_READY_TIMEOUT:-120}" \
    curl -fsS --max-time 5 --cacert "$pki/ca.crt" --cert "$pki/admin.crt" --key "$pki/admin.key" "$1/readyz"
}

cmd_up() {
  if is_ready; then
    say "already up at $(apiserver_url) (kubeconfig: $kubeconfig)"
    return 0
  fi
  if live_pid etcd >/dev/null || live_pid kube-apiserver >/dev/null; then
    say "found a half-running control plane in $state; stopping it first"
  fi
  cmd_down_quiet

  local bin build_log
  build_log="${PIER_K8S_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/pier/k8s/v$KUBE_VERSION}/build.log"
  if [ -z "${KUBEBUILDER_ASSETS:-}" ] && ! command -v go >/dev/null 2>&1 &&
     ! { [ -x "${build_log%/*}/kube-apiserver" ] && [ -x "${build_log%/*}/etcd" ]; }; then
    die "Go is not installed and no prebuilt kube-apiserver/etcd were found in ${build_log%/*}; install Go (see test/cluster/versions.env for the versions) or set KUBEBUILDER_ASSETS to a directory holding kube-apiserver and etcd"
  fi
  bin="$(bash "$here/build-binaries.sh" | tail -n 1)" ||
    die "building kube-apiserver/etcd failed; the build log is $build_log"
  [ -x "$bin/kube-apiserver" ] && [ -x "$bin/etcd" ] || die "no kube-apiserver/etcd in '$bin' after the build; the build log is $build_log"

  local etcd_port etcd_peer_port api_port
  etcd_port="${PIER_ETCD_PORT:-$(free_port)}"
  etcd_peer_port="$(free_port)"
  api_port="${PIER_APISERVER_PORT:-$(free_port)}"
  check_port_free "$etcd_port" etcd
  check_port_free "$etcd_peer_port" "etcd peer"
  check_port_free "$api_port" kube-apiserver
  [ "$etcd_port" != "$api_port" ] && [ "$etcd_peer_port" != "$etcd_port" ] && [ "$etcd_peer_port" != "$api_port" ] ||
    die "etcd ($etcd_port), etcd peer ($etcd_peer_port) and kube-apiserver ($api_port) need distinct ports"

  mkdir -p -m 700 "$state/etcd"
  make_pki
  local server="https://127.0.0.1:$api_port" etcd_url="http://127.0.0.1:$etcd_port"
  printf 'APISERVER_URL=%s\nETCD_URL=%s\nBIN_DIR=%s\n' "$server" "$etcd_url" "$bin" >"$state/cluster.env"

  # Single member on loopback; no fsync because the data is thrown away (envtest does the same).
  start_daemon etcd "$bin/etcd" --name=pier-test --data-dir="$state/etcd" \
    --listen-client-urls="$etcd_url" --advertise-client-urls="$etcd_url" \
    --listen-peer-urls="http://127.0.0.1:$etcd_peer_port" --initial-advertise-peer-urls="http://127.0.0.1:$etcd_peer_port" \
    --initial-cluster="pier-test=http://127.0.0.1:$etcd_peer_port" \
    --unsafe-no-fsync=true --log-level=warn
  wait_for etcd 30 curl -fsS --max-time 2 "$etcd_url/health"

  start_apiserver "$bin" "$etcd_url" "$server"
  write_kubeconfig "$server"
  wait_for_apiserver "$server"
  say "up at $server (etcd $etcd_url); kubeconfig: $kubeconfig"
}

# Stops kube-apiserver and starts it again with the same flags, port, PKI and etcd (for tests of
# clients that must survive an API server restart).
cmd_restart_apiserver() {
  is_ready || die "not up; run \`$0 up\` first"
  local server etcd_url bin
  server="$(apiserver_url)"
  etcd_url="$(sed -n 's/^ETCD_URL=//p' "$state/cluster.env")"
  bin="$(sed -n 's/^BIN_DIR=//p' "$state/cluster.env")"
  stop_pid kube-apiserver
  start_apiserver "$bin" "$etcd_url" "$server"
  wait_for_apiserver "$server"
  say "kube-apiserver restarted at $server"
}

cmd_down_quiet() {
  stop_pid kube-apiserver # first, so it doesn't spin on a vanished etcd
  stop_pid etcd
  rm -rf "$state"
}

cmd_down() {
  if [ ! -d "$state" ]; then say "not running (no $state)"; return 0; fi
  cmd_down_quiet
  say "stopped; removed $state"
}

cmd_status() {
  if is_ready; then
    echo "up: $(apiserver_url) (kube-apiserver pid $(live_pid kube-apiserver), etcd pid $(live_pid etcd)); kubeconfig: $kubeconfig"
    return 0
  fi
  local apiserver etcd
  apiserver="$(live_pid kube-apiserver || echo none)"; etcd="$(live_pid etcd || echo none)"
  if [ "$apiserver" = none ] && [ "$etcd" = none ]; then
    echo "down"
  else
    echo "unhealthy: kube-apiserver pid $apiserver, etcd pid $etcd, /readyz at $(apiserver_url || echo '?') failing; logs in $state"
  fi
  return 1
}

# One `up`/`down` at a time per checkout (parallel test runs would otherwise race on .cluster/).
lock="${XDG_RUNTIME_DIR:-/tmp}/pier-cluster-$(printf '%s' "$root" | cksum | cut -d' ' -f1).lock"
case "${1:-}" in
  up)     exec 9>"$lock"; flock 9; cmd_up ;;
  down)   exec 9>"$lock"; flock 9; cmd_down ;;
  restart-apiserver) exec 9>"$lock"; flock 9; cmd_restart_apiserver ;;
  status) cmd_status ;;
  *) echo "usage: $0 up|down|status|restart-apiserver" >&2; exit 2 ;;
esac
