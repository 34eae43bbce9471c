#!/usr/bin/env bash
# Builds kube-apiserver, etcd (and kubectl when the machine lacks one) from the Go module proxy
# into a cache outside the repo. Skips what is already built. Honours KUBEBUILDER_ASSETS.
# Prints the directory that holds the binaries on its last line.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

if [ -n "${KUBEBUILDER_ASSETS:-}" ] && [ -x "$KUBEBUILDER_ASSETS/kube-apiserver" ] && [ -x "$KUBEBUILDER_ASSETS/etcd" ]; then
  echo "$KUBEBUILDER_ASSETS"; exit 0
fi

out="${PIER_K8S_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/pier/k8s/v$KUBE_VERSION}"
mkdir -p "$out"
log="$out/build.log"

need_kubectl=false
command -v kubectl >/dev/null 2>&1 || need_kubectl=true

if [ -x "$out/kube-apiserver" ] && [ -x "$out/etcd" ] && { [ "$need_kubectl" = false ] || [ -x "$out/kubectl" ]; }; then
  echo "$out"; exit 0
fi

command -v go >/dev/null 2>&1 || { echo "error: Go is not installed; it is needed to build kube-apiserver and etcd (or set KUBEBUILDER_ASSETS)" >&2; exit 1; }

export GOTOOLCHAIN=local CGO_ENABLED=0
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
fail() { echo "error: building $1 failed; the build log is $log" >&2; tail -n 20 "$log" >&2; exit 1; }

build_apiserver() {
  local minor staging gomod godebug tools
  minor="$(echo "$KUBE_VERSION" | cut -d. -f2)"
  staging_version="0.${KUBE_VERSION#1.}"
  mkdir -p "$work/apiserver" && cd "$work/apiserver"
  go mod init local/pier-test-binaries/apiserver
  go mod download "k8s.io/kubernetes@v$KUBE_VERSION"
  gomod="$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/v$KUBE_VERSION.mod"
  # k8s.io/kubernetes requires its staging modules at v0.0.0 through ./staging replaces that a
  # consumer ignores; staging v0.Y.Z is the published copy of kubernetes v1.Y.Z.
  staging="$( { grep -E '^[[:space:]]+k8s\.io/[A-Za-z0-9._-]+ v0\.0\.0([[:space:]]|$)' "$gomod" | awk '{print $1}'
                grep -E '=>[[:space:]]+\./staging/' "$gomod" | awk '{print $1}'; } | sort -u)"
  godebug="$(awk '/^godebug \(/{b=1} b{print; if(/^\)/)b=0; next} /^godebug /{print}' "$gomod")"
  tools="k8s.io/kubernetes/cmd/kube-apiserver"
  [ "$need_kubectl" = true ] && tools="$tools k8s.io/kubernetes/cmd/kubectl"
  {
    printf 'module local/pier-test-binaries/apiserver\n\ngo 1.26.0\n\n%s\n\n' "$godebug"
    printf 'require k8s.io/kubernetes v%s\n\ntool (\n' "$KUBE_VERSION"
    for t in $tools; do printf '\t%s\n' "$t"; done
    printf ')\n\nreplace (\n'
    for m in $staging; do printf '\t%s => %s v%s\n' "$m" "$m" "$staging_version"; done
    printf ')\n'
  } > go.mod
  go mod tidy
  local ldflags="-s -w"
  for kv in "gitVersion=v$KUBE_VERSION" gitMajor=1 "gitMinor=$minor" gitTreeState=clean \
            "gitCommit=module-v$KUBE_VERSION" "buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"; do
    ldflags="$ldflags -X k8s.io/component-base/version.${kv} -X k8s.io/client-go/pkg/version.${kv}"
  done
  # shellcheck disable=SC2086
  go build -trimpath -ldflags "$ldflags" -o "$out/" $tools
}

build_etcd() {
  mkdir -p "$work/etcd" && cd "$work/etcd"
  printf 'module local/pier-test-binaries/etcd\n\ngo 1.26.0\n\nrequire go.etcd.io/etcd/server/v3 v%s\n\ntool go.etcd.io/etcd/server/v3\n' "$ETCD_VERSION" > go.mod
  go mod tidy
  go build -trimpath -ldflags "-s -w" -o "$out/etcd" go.etcd.io/etcd/server/v3
}

started=$(date +%s)
echo "building the test control plane (kube-apiserver v$KUBE_VERSION, etcd v$ETCD_VERSION) into $out; log: $log" >&2
: > "$log"
[ -x "$out/etcd" ] || ( build_etcd >>"$log" 2>&1 ) || fail etcd
{ [ -x "$out/kube-apiserver" ] && { [ "$need_kubectl" = false ] || [ -x "$out/kubectl" ]; }; } || ( build_apiserver >>"$log" 2>&1 ) || fail kube-apiserver
echo "built in $(( $(date +%s) - started )) s" >&2
"$out/kube-apiserver" --version >&2
echo "$out"
