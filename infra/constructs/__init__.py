"""One construct per capability, each with keyword-only props and its resources as attributes."""
