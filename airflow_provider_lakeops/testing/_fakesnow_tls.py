"""Serve fakesnow over TLS so the stock ``SnowflakeHook`` (always https) can reach it.

Run as ``python -m airflow_provider_lakeops.testing._fakesnow_tls --port P --cert C --key K``.
The stack starts it as a child process; it prints nothing useful and exits on SIGTERM.
"""

from __future__ import annotations

import argparse


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args()

    import uvicorn
    from fakesnow.server import app

    uvicorn.run(
        app,
        host=args.host,
        port=args.port,
        ssl_certfile=args.cert,
        ssl_keyfile=args.key,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
