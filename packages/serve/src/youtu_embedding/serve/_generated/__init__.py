"""Stubs generated from ../proto by youtu_embedding.serve.codegen."""
