"""What both halves (the laptop's `compose/` and the coming `cluster/`) apply to an engine.

Pure: ``container_config`` (a service's compose keys -> the engine's create request, 1:1),
``durations``, ``images`` (which images to pull or build, and the build request).
Effects: ``apply`` (runs plan actions, each routed to the driver of its target).
`compose/` and `cluster/` sit on this package and never import each other.
"""
