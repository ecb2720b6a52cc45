"""The built-in executors, registered exactly as a third party's would be."""

from __future__ import annotations

from ..hookspecs import hookimpl


def local(options):
    from ..executors.local import LocalExecutor

    return LocalExecutor(options)


def process(options):
    from ..executors.process import ProcessExecutor

    return ProcessExecutor(options)


def ray(options):
    from ..executors.ray import RayExecutor  # raises ExecutorError when Ray is not installed

    return RayExecutor(options)


@hookimpl
def register_executors(register):
    register("local", local)
    register("process", process)
    register("ray", ray)
