"""``lakeops-stack``: run a command against the embedded local stack.

``lakeops-stack run [--home DIR] [--spark-cluster] [--cdc] -- CMD ...`` starts moto and fakesnow (and
a Spark cluster, and with ``--cdc`` Kafka, Kafka Connect with Debezium, MariaDB and PostgreSQL, on
request), migrates the Airflow metadata DB of ``DIR/airflow``, runs ``CMD`` with the
stack's connections in its environment, and stops every server afterwards, on failure and on
Ctrl-C too. The exit code is the command's.

``lakeops-stack env [--home DIR]`` starts the stack, prints ``export`` lines, and waits for Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from airflow_provider_lakeops.testing.stack import LocalStack, StackError, airflow_env, migrate_airflow_db


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lakeops-stack", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "env"):
        p = sub.add_parser(name)
        p.add_argument(
            "--home",
            default=os.environ.get("LAKEOPS_HOME", ".lakeops"),
            help="folder for the lake, logs, lineage and the Airflow home (default: .lakeops)",
        )
        p.add_argument("--spark-cluster", action="store_true", help="also start a Spark standalone cluster")
        p.add_argument("--dags-folder", help="DAGS_FOLDER for the Airflow home (default: HOME/airflow/dags)")
        p.add_argument("--no-snowflake", action="store_true", help="do not start fakesnow")
        p.add_argument(
            "--cdc",
            action="store_true",
            help="also start the CDC servers: Kafka, Kafka Connect (Debezium), MariaDB, PostgreSQL",
        )
        if name == "run":
            p.add_argument("cmd", nargs=argparse.REMAINDER, help="the command, after --")
    return parser


def _sigterm_to_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    home = Path(args.home).resolve()
    env = airflow_env(home)
    if args.dags_folder:
        env["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(args.dags_folder).resolve())
    cmd = list(getattr(args, "cmd", [])) if args.command == "run" else []
    if cmd[:1] == ["--"]:  # only the separator: a "--" inside the command is the command's own
        cmd = cmd[1:]
    if args.command == "run" and not cmd:
        print("lakeops-stack run: give the command after --", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _sigterm_to_interrupt)
    stack = LocalStack(
        home,
        snowflake=not args.no_snowflake,
        spark_cluster=args.spark_cluster,
        kafka_connect=args.cdc,
        mariadb=args.cdc,
        postgres=args.cdc,
    )
    started = time.monotonic()
    try:
        with stack:
            env.update(stack.env())
            migrate_airflow_db(env)
            print(
                f"lakeops-stack: local stack up in {time.monotonic() - started:.1f} s "
                f"(moto {stack.moto_endpoint}, home {home})",
                file=sys.stderr,
                flush=True,
            )
            if args.command == "env":
                for key, value in sorted(env.items()):
                    print(f"export {key}={shlex.quote(value)}")
                sys.stdout.flush()
                while True:
                    time.sleep(3600)
            return subprocess.call(cmd, env={**os.environ, **env})
    except StackError as exc:
        print(f"lakeops-stack: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("lakeops-stack: interrupted; local stack stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
