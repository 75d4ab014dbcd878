#!/usr/bin/env bash
# Roles of the spark-deberta image:
#   job [JOB OPTIONS]     spark-submit the embedding job (master: $SPARK_MASTER, default local[*])
#   master                a standalone master on $SPARK_MASTER_HOST:$SPARK_MASTER_PORT
#   worker MASTER_URL     a standalone worker joining MASTER_URL
#   anything else         executed as given (a shell, python, spark-deberta export ...)
set -euo pipefail

APP_DIR="${APP_DIR:-/opt/spark-deberta}"
SPARK_HOME="${SPARK_HOME:-$(python3 -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')}"
SPARK_SUBMIT="${SPARK_SUBMIT:-$SPARK_HOME/bin/spark-submit}"
export SPARK_HOME PYSPARK_PYTHON="${PYSPARK_PYTHON:-$(command -v python3)}"

usage() {
    echo "usage: entrypoint.sh {job [options] | master | worker MASTER_URL | COMMAND...}" >&2
    exit 2
}

[ "$#" -gt 0 ] || usage
role="$1"
shift
case "$role" in
    job)
        exec "$SPARK_SUBMIT" --master "${SPARK_MASTER:-local[*]}" \
            --properties-file "${SPARK_PROPERTIES:-$APP_DIR/conf/spark/local.conf}" \
            "$APP_DIR/pipelines/embed.py" --config "${JOB_CONFIG:-$APP_DIR/conf/job.yaml}" "$@"
        ;;
    master)
        exec "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.master.Master \
            --host "${SPARK_MASTER_HOST:-0.0.0.0}" --port "${SPARK_MASTER_PORT:-7077}" "$@"
        ;;
    worker)
        [ "$#" -ge 1 ] || usage
        exec "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.worker.Worker "$@"
        ;;
    -h | --help | help)
        usage
        ;;
    *)
        exec "$role" "$@"
        ;;
esac
