"""CodeDeploy's pre-traffic hook: ``runtime/`` runs on Lambda, ``infrastructure.py`` deploys it."""
