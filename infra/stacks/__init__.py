"""One stack per front door: the serverless path (API Gateway -> Lambda) and the ECS alternative."""
