#!/usr/bin/env bash
# A longer fuzzing run than the CI gate (tests/api/test_schemathesis.py): schemathesis over
# every operation of a live `autoscorer serve`, all phases (examples, coverage, fuzzing,
# stateful), thousands of examples per operation, unseeded, same checks and config.
#   bash bench/fuzz_api.sh            # 2000 examples per operation
#   EXAMPLES=5000 KEYS=1 bash bench/fuzz_api.sh
set -euo pipefail
cd "$(dirname "$0")/.."
EXAMPLES=${EXAMPLES:-2000}
PORT=${PORT:-18990}
WORK=$(mktemp -d)
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$WORK/ws/examples" "$WORK/scorers/scorers"
cp -r examples/classification "$WORK/ws/examples/"
KEY="fuzz-$(python3 -c 'import secrets; print(secrets.token_hex(8))')"
{
  echo "database_url: sqlite:///$WORK/jobs.db"
  echo "workspace_roots: [$WORK/ws]"
  echo "scorer_roots: [$WORK/scorers]"
  echo "executor: local"
  echo "sync_wait_seconds: 2.0"
  echo "log_level: WARNING"
  if [ "${KEYS:-0}" = 1 ]; then
    echo "api_keys: [{name: fuzz, role: admin, sha256: $(python3 -c "from autoscorer.settings import hash_key; print(hash_key('$KEY'))")}]"
  fi
} > "$WORK/autoscorer.yaml"
python3 -m autoscorer.cli.main serve --host 127.0.0.1 --port "$PORT" --config "$WORK/autoscorer.yaml" \
  > "$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
AUTH=()
[ "${KEYS:-0}" = 1 ] && AUTH=(-H "Authorization: Bearer $KEY")
started=$(date +%s)
status=0
st --config-file tests/api/schemathesis.toml run "http://127.0.0.1:$PORT/openapi.json" \
  --wait-for-schema 120 --phases examples,coverage,fuzzing,stateful --max-examples "$EXAMPLES" \
  --checks not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance \
  --workers 2 --request-timeout 30 --no-color "${AUTH[@]}" || status=$?
echo "took $(( $(date +%s) - started )) s; exit $status"
curl -fsS "http://127.0.0.1:$PORT/health" > /dev/null && echo "health: ok"
if grep -q Traceback "$WORK/server.log"; then echo "server log has a traceback: $WORK/server.log"; status=1; fi
exit $status
