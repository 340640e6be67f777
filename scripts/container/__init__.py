"""The container tier: build the service image, run it under SAM, the Lambda Runtime Interface
Emulator and the ECS task's command, on 127.0.0.1 and the host network only.

    python -m scripts.container.image            make image
    python -m scripts.container.sam_local ...    make sam-invoke / make sam-api
    python -m scripts.container.ecs_local        make ecs-local
    python -m scripts.container.bench            make bench-container

Standard library only (plus the project's own ``lambda_fn`` for comparisons in tests).
``toolchain`` decides where Docker, the base image, wheels and the SAM CLI come from.
"""
