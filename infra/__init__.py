"""The AWS CDK app of the price service: ``infra/app.py`` composes the stacks, ``infra/stacks``
compose the constructs, ``infra/constructs`` hold one construct per capability."""
