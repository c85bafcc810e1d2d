"""The workspace's providers: their YAML definitions (``providers/NAME.yaml``) and their
numbered file versions (``files/NAME/``). Above ``providers/`` (the file formats) and the
workspace; below ``scenarios/``."""
