"""Infrastructure: config, runtime and precision policy, installs, file I/O, models, generation, GGUF export."""
