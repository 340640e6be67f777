"""Sound Realty price service: the code that runs in AWS Lambda and in the ECS container."""
