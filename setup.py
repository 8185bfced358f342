"""Build configuration beyond pyproject.toml: the balancer's optional native data path.

The extension is optional: without a C compiler or Python headers the install still succeeds and
the balancer runs its asyncio engine (``engine: native`` then fails as a config error).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "stackctl.lb._relay",
            sources=["stackctl/lb/_relay.c", "stackctl/lb/relay_loop.c", "stackctl/lb/proxy_header.c"],
            depends=["stackctl/lb/relay.h", "stackctl/lb/proxy_header.h"],
            extra_compile_args=["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers"],
            optional=True,
        ),
    ],
)
