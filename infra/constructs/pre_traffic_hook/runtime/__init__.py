"""The pre-traffic hook's Lambda code: the standard library and boto3 only (the plain Python runtime).

Packaged as ``pre_traffic_hook/`` with the API Gateway events it sends (``events/``) by
``infra/constructs/pre_traffic_hook/infrastructure.py``; the entry point is
``pre_traffic_hook.handler.lambda_handler``.
"""
