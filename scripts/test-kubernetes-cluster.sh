#!/usr/bin/env bash
# The Kubernetes end-to-end suite against a real cluster (CI here has none: the same paths
# run there against the stand-in cluster of test/kube). It renders the chart with the real
# helm, installs it into a fresh namespace, waits for the control plane, and runs
# test-cluster/*.test.ts through the API (port-forwarded) and kubectl; then uninstalls.
#
#   OUTPOST_TEST_KUBECONFIG   a kubeconfig of a cluster you may install into (required)
#   OUTPOST_TEST_IMAGE        the control-plane image, pushed where the cluster pulls
#                             (deploy/control-plane/Dockerfile), e.g. registry.example/outpost:0.1.0
#   OUTPOST_TEST_RUNTIME_IMAGE  the sandboxes' image (deploy/runtime/Dockerfile)
#   OUTPOST_TEST_DATABASE_URL   the control plane's PostgreSQL; default: a CloudNativePG
#                             cluster made by the chart (needs the CNPG operator)
#   OUTPOST_TEST_KEEP=1       leave the namespace for a look afterwards
set -euo pipefail
cd "$(dirname "$0")/.."

: "${OUTPOST_TEST_KUBECONFIG:?set OUTPOST_TEST_KUBECONFIG to a kubeconfig of a cluster you may install into}"
: "${OUTPOST_TEST_IMAGE:?set OUTPOST_TEST_IMAGE to the control-plane image (deploy/control-plane/Dockerfile)}"
: "${OUTPOST_TEST_RUNTIME_IMAGE:?set OUTPOST_TEST_RUNTIME_IMAGE to the runtime image (deploy/runtime/Dockerfile)}"
for tool in helm kubectl openssl; do
  command -v "$tool" >/dev/null || { echo "test-kubernetes-cluster: $tool is needed on PATH" >&2; exit 2; }
done
export KUBECONFIG="$OUTPOST_TEST_KUBECONFIG"

namespace="outpost-e2e-$(date +%s)"
release=outpost
token="$(openssl rand -hex 32)"
database=(--set postgresql.cloudnativePg.enabled=true)
if [ -n "${OUTPOST_TEST_DATABASE_URL:-}" ]; then database=(--set-string "postgresql.url=$OUTPOST_TEST_DATABASE_URL"); fi
values=(
  --set-string "image.repository=${OUTPOST_TEST_IMAGE%:*}" --set-string "image.tag=${OUTPOST_TEST_IMAGE##*:}"
  --set-string "runtime.image=$OUTPOST_TEST_RUNTIME_IMAGE"
  --set-string "secrets.secretKey=$(openssl rand -base64 32)" --set-string "secrets.adminToken=$token"
  "${database[@]}"
)

forward=""
cleanup() {
  [ -n "$forward" ] && kill "$forward" 2>/dev/null || true
  if [ "${OUTPOST_TEST_KEEP:-}" != 1 ]; then
    helm uninstall "$release" -n "$namespace" --wait >/dev/null 2>&1 || true
    kubectl delete namespace "$namespace" --wait=false >/dev/null 2>&1 || true
  else
    echo "test-kubernetes-cluster: left namespace $namespace"
  fi
}
trap cleanup EXIT

echo "· helm template (the real renderer, beside the tests' own)"
helm template "$release" deploy/helm/outpost -n "$namespace" "${values[@]}" >/dev/null
echo "· helm install into $namespace"
helm install "$release" deploy/helm/outpost -n "$namespace" --create-namespace "${values[@]}" --wait --timeout 10m
kubectl -n "$namespace" rollout status "deployment/$release" --timeout 5m

port=$((20000 + RANDOM % 10000))
kubectl -n "$namespace" port-forward "service/$release" "$port:7300" >/dev/null &
forward=$!
for _ in $(seq 1 50); do curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.2; done

echo "· the end-to-end suite"
OUTPOST_E2E_URL="http://127.0.0.1:$port" OUTPOST_E2E_TOKEN="$token" OUTPOST_E2E_NAMESPACE="$namespace" \
  node --import tsx --test --test-reporter=spec --test-timeout=900000 test-cluster/*.test.ts
