"""The orchestrator and the example apps on the embedded local AWS: what `make demo` runs and tests reuse."""
