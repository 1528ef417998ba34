"""Converters from other model formats. They read files and build graphs; they import no
registry, so the registry can call them (one direction only)."""
