"""Built-in plugins, registered through the `youtu_embedding` entry-point group like any plugin."""
