"""On-disk formats: one module per file kind (load, save, version check) and the atomic writer."""
