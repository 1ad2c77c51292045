"""mtp-spark: tokenize -> train -> evaluate, each a spark-submit of the application jar.

Requires apache-airflow (2.4+) and apache-airflow-providers-apache-spark, and a Spark connection (default id
``spark_mtp``, e.g. host ``yarn`` or ``k8s://https://…``, extra ``{"deploy-mode": "cluster"}``) whose worker has a
Spark 3.5 distribution's spark-submit. The job arguments of the tasks are data, in ``mtp_dag_args.yaml`` beside
this file (so a Java test checks them through the job's own parser); this file only wires them to operators. The Spark connection id is spark_mtp unless the environment variable
MTP_SPARK_CONN_ID names another (conn_id is not a template field, and the DAG does not read Variables at parse time).

Airflow Variables (all optional, nothing secret):
  mtp_app_jar        application jar (default hdfs:///mtp/lib/mtp-spark-app.jar)
  mtp_gpu_script     local path of deploy/gpu/getGpusResources.sh on the Airflow worker, shipped with --files
                     to the train task's executors (default: none; then the cluster must provide it)
  mtp_NAME           default of the DAG param NAME (see mtp_dag_args.yaml); a triggered run's conf wins.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta

import yaml
from airflow import DAG
from airflow.models import Variable
from airflow.models.param import Param
from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

_HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(_HERE, "mtp_dag_args.yaml"), encoding="utf-8") as f:
    SPEC = yaml.safe_load(f)

PARAMS = SPEC["params"]
TASKS = ("tokenize", "train", "evaluate")
assert tuple(SPEC["tasks"]) == TASKS, "mtp_dag_args.yaml must define exactly the tasks tokenize, train, evaluate"


def _resolve(args):
    """{{ params.NAME }} -> the run's param when given, else Variable mtp_NAME, else the YAML default (at render time,
    so parsing the DAG never reads the metadata database)."""
    out = []
    for a in args:
        for name in PARAMS:
            a = a.replace(
                "{{ params.%s }}" % name,
                "{{ params.%s if params.%s else var.value.get('mtp_%s', mtp_defaults.%s) }}" % (name, name, name, name),
            )
        out.append(a)
    return out


def _conf(task):
    conf = dict(SPEC["spark"]["conf"])
    if task == "train":
        conf.update(SPEC["spark"]["train_conf"])
    return conf


default_args = {
    "owner": "mtp",
    "retries": 1,
    "retry_delay": timedelta(minutes=5),
}

with DAG(
    dag_id="mtp_spark",
    description="Multi-token prediction LM: tokenize -> train -> evaluate on Spark",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    max_active_runs=1,  # runs share run_output; two trains on one run directory would interleave checkpoints
    default_args=default_args,
    params={name: Param(None, type=["null", "string"], description=p["description"]) for name, p in PARAMS.items()},
    user_defined_macros={"mtp_defaults": {name: str(p["default"]) for name, p in PARAMS.items()}},
    tags=["mtp-spark", "spark"],
) as dag:
    app_jar = "{{ var.value.get('mtp_app_jar', 'hdfs:///mtp/lib/mtp-spark-app.jar') }}"
    conn_id = os.environ.get("MTP_SPARK_CONN_ID") or "spark_mtp"
    spark = SPEC["spark"]
    operators = {}
    for task in TASKS:
        extra = {}
        if task == "train":
            # Retries rely on the job's automatic resume: train without --overwrite continues from the newest
            # good checkpoint in run.output, so a retry repeats at most one checkpoint interval.
            extra = {
                "retries": 4,
                "retry_delay": timedelta(minutes=2),
                "retry_exponential_backoff": True,
                "max_retry_delay": timedelta(minutes=30),
                "files": "{{ var.value.get('mtp_gpu_script', '') }}",
            }
        operators[task] = SparkSubmitOperator(
            task_id=task,
            conn_id=conn_id,
            application=app_jar,
            java_class="dev.mtpspark.spark.MtpCli",
            name="mtp-" + task,
            application_args=_resolve(SPEC["tasks"][task]["args"]),
            conf=_conf(task),
            driver_memory=spark["driver_memory"],
            executor_memory=spark["executor_memory"],
            executor_cores=spark["executor_cores"],
            num_executors=spark["num_executors"],
            verbose=False,
            **extra,
        )

    operators["tokenize"] >> operators["train"] >> operators["evaluate"]
