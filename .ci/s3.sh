#!/usr/bin/env bash
# Starts a local S3-compatible server for the test suite (moto's, from PyPI, on port 55433) and
# exports SPLATPOD_TEST_S3_ENDPOINT, so the object_store S3 path is tested against a real
# S3 wire protocol. Sourced by test.sh. Set SPLATPOD_TEST_S3_ENDPOINT yourself to use another.

if [ -z "${SPLATPOD_TEST_S3_ENDPOINT:-}" ]; then
    python3 -c "import moto.server" 2>/dev/null ||
        python3 -m pip install --quiet --root-user-action=ignore 'moto[server]==5.2.1'
    S3_PORT=${SPLATPOD_S3_PORT:-55433}
    listening() { (exec 3<>"/dev/tcp/127.0.0.1/$S3_PORT") 2>/dev/null; }
    if ! listening; then
        nohup python3 -m moto.server -H 127.0.0.1 -p "$S3_PORT" >/tmp/splatpod-moto.log 2>&1 &
        for _ in $(seq 1 100); do
            listening && break
            sleep 0.2
        done
        if ! listening; then
            echo "the S3 test server did not start (see /tmp/splatpod-moto.log)" >&2
            return 1
        fi
    fi
    export SPLATPOD_TEST_S3_ENDPOINT="http://127.0.0.1:$S3_PORT"
    echo "S3 (moto) for tests: $SPLATPOD_TEST_S3_ENDPOINT"
fi
