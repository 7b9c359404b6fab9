"""A small HTTP service for the ``operator`` profile, meant to run under OpenTelemetry
auto-instrumentation (``opentelemetry-instrument``), the way the operator injects an agent into a pod.

It has no tracing code of its own: every span comes from the instrumentation, configured only through
the ``OTEL_*`` environment the Instrumentation resource defines.
"""

from __future__ import annotations

import argparse

from flask import Flask, jsonify, request

app = Flask("tracestack-sample-app")


@app.get("/health")
def health():
    return "ok"


# The same route as bookinfo's Java "reviews" service, which the kind runtime deploys, so one check
# serves both runtimes.
@app.get("/reviews/<product_id>")
def reviews(product_id: str):
    return jsonify(id=product_id, reviews=[], traceparent=request.headers.get("traceparent"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app.run(host=args.host, port=args.port, threaded=True)


if __name__ == "__main__":
    main()
