"""Developer tools that are not part of the production packages."""
