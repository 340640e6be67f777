"""Training, evaluation and release tooling for Sound Realty's price models (not shipped in the image)."""
