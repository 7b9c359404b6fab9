# Root conftest of the pytest-tracestack repository: the plugin is installed through its pytest11
# entry point, and pytester (enabled in pyproject's addopts) drives the plugin in throwaway projects.
