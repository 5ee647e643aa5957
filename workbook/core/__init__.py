"""Infrastructure: configuration, runtime and precision policy, installs, file I/O, model loading, generation, GGUF export."""
